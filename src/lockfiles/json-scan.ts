/**
 * A cursor over JSON text that JSON.parse took already: it skips whitespace, strings
 * and whole values without building them, so a caller finds where a value stands in
 * the text (its offset, its line) in one pass, whatever the file's layout.
 */
export class JsonScan {
  /** The offset the cursor is at. */
  i: number;

  constructor(
    readonly text: string,
    start = 0,
  ) {
    this.i = start;
  }

  /** The character at the cursor (a method: each call reads it anew). */
  ch(): string | undefined {
    return this.text[this.i];
  }

  ws(): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.i++;
    }
  }

  /** Past the string that starts at the cursor. */
  string(): void {
    const t = this.text;
    for (this.i++; this.i < t.length && t[this.i] !== '"'; this.i++) if (t[this.i] === '\\') this.i++;
    this.i++;
  }

  /** Past the value at the cursor (whitespace before it too). */
  value(): void {
    this.ws();
    const t = this.text;
    if (t[this.i] === '"') return this.string();
    if (t[this.i] !== '{' && t[this.i] !== '[') {
      while (this.i < t.length && !',}] \t\n\r'.includes(t[this.i]!)) this.i++;
      return;
    }
    let depth = 0;
    do {
      const c = t[this.i];
      if (c === '"') this.string();
      else {
        if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') depth--;
        this.i++;
      }
    } while (depth > 0 && this.i < t.length);
  }

  /** The object key at the cursor, read as JSON.parse reads it; the cursor left at its value. */
  key(): string {
    const start = this.i;
    this.string();
    const key = JSON.parse(this.text.slice(start, this.i)) as string;
    this.ws();
    this.i++; // the colon
    this.ws();
    return key;
  }
}
