/** warm's reading of a store's PEP 503 page: the links pip sees, as absolute URLs, in linear time whatever the store answers. */
import { describe, expect, it } from 'vitest';
import { parseSimplePage } from '../../src/warm/pypi-store.js';

const page = 'https://store.example/pypi/pypi-store/simple/six/';
const sha = 'ab'.repeat(32);

describe("parseSimplePage (warm's store pages)", () => {
  it('resolves each link against the page, keeps a 64-hex sha256, the version folder and the file name; a comment hides a link from pip and from warm', () => {
    const html = `<a href="1.16.0/six-1.16.0-py2.py3-none-any.whl#sha256=${sha}">six-1.16.0-py2.py3-none-any.whl</a>
      <!-- <a href="1.15.0/six-1.15.0.tar.gz#sha256=${sha}">six-1.15.0.tar.gz</a> -->
      <a href='1.16.0/six-1.16.0.tar.gz#sha256=short'>six-1.16.0.tar.gz</a>`;
    expect(parseSimplePage(html, page)).toEqual([
      { filename: 'six-1.16.0-py2.py3-none-any.whl', url: `${page}1.16.0/six-1.16.0-py2.py3-none-any.whl`, version: '1.16.0', sha256: sha },
      { filename: 'six-1.16.0.tar.gz', url: `${page}1.16.0/six-1.16.0.tar.gz`, version: '1.16.0' },
    ]);
  });

  it('a tag that never ends ends the page, as for pip: only the links before it (50,000 of them, a page the old reading rescanned per tag)', () => {
    const html = `<a href="1.0/x-1.0.tar.gz#sha256=${sha}">x-1.0.tar.gz</a>${'<a x'.repeat(50_000)}`;
    expect(parseSimplePage(html, page).map((f) => f.filename)).toEqual(['x-1.0.tar.gz']);
  });
});
