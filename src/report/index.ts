/**
 * Reports: the plan (before cutover, from a dry run) and the run report (what
 * was done), as one versioned model rendered three ways.
 *
 *   const report = buildReport(reportInputFromState(state, job, summary));
 *   renderJson(report); renderMarkdown(report); renderHtml(report);
 */
export { buildReport, type ReportInput, type ReportItem, type ReportJob, type ReportPackageRow } from './model.js';
export { reportInputFromState, measureThroughput, type FromStateOptions } from './from-state.js';
export { estimateDuration, DEFAULT_RATES, ASSUMED_THROUGHPUT, type EstimateWork, type EstimateOptions, type Throughput } from './estimate.js';
export { renderJson, renderJsonParts } from './render-json.js';
export { renderMarkdown, type MarkdownOptions } from './render-markdown.js';
export { renderHtml, type HtmlOptions } from './render-html.js';
export * from './schema.js';
