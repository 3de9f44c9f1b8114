// JUnit XML for CI systems: one test case per criterion, grouped by subject
// (a responder or peer), plus one test case per subject that fails when any
// of its criteria failed, with what was measured for it in <system-out>.

import type { Criterion } from '../model/criteria.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function junitXml(suite: string, criteria: Criterion[], durationMs: number, subjects: string[] = [], details: Record<string, string> = {}): string {
  const cases: string[] = [];
  const time = (durationMs / 1000).toFixed(3);
  for (const c of criteria) {
    const classname = esc(`${suite}${c.subject ? `.${c.subject}` : ''}`);
    const body = c.pass ? '' : `<failure message="${esc(c.message)}" type="threshold">${esc(`measured ${c.measured ?? 'n/a'}, limit ${c.limit ?? 'n/a'}`)}</failure>`;
    cases.push(`    <testcase classname="${classname}" name="${esc(c.name)}" time="0">${body}</testcase>`);
  }
  for (const s of subjects) {
    const failed = criteria.filter((c) => c.subject === s && !c.pass);
    const failure = failed.length ? `<failure message="${esc(failed.map((f) => f.message).join('; '))}" type="threshold"/>` : '';
    // What was measured for this subject (a responder's received/refused/lost), failed or not.
    const detail = Object.hasOwn(details, s) ? `<system-out>${esc(details[s]!)}</system-out>` : '';
    const body = failure + detail;
    cases.push(`    <testcase classname="${esc(`${suite}.responders`)}" name="${esc(s)}" time="${time}">${body}</testcase>`);
  }
  const failures = criteria.filter((c) => !c.pass).length + subjects.filter((s) => criteria.some((c) => c.subject === s && !c.pass)).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="mcast" tests="${cases.length}" failures="${failures}" time="${time}">`,
    `  <testsuite name="${esc(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${time}" timestamp="${new Date().toISOString()}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
