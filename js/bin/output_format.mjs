// Options that ask for structured output (--json, --json-schema, --grammar, --regex), as the native CLI
// takes them (tools/cli/output_format_options.cpp), turned into a request's response_format.
import fs from 'node:fs';

import { UsageError } from './args.mjs';

export const FORMAT_OPTIONS = ['json-schema', 'grammar', 'regex'];
export const FORMAT_FLAGS = ['json'];
export const FORMAT_USAGE =
  'structured output (at most one):\n' +
  '  --json               any JSON object\n' +
  '  --json-schema FILE   JSON matching this JSON Schema (properties in the schema\'s order)\n' +
  '  --grammar FILE       text of this grammar: GBNF, or EBNF when FILE ends in .ebnf\n' +
  '  --regex PATTERN      text matching this regular expression\n';

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot open ${file}: no such readable file`);
  }
}

/** The response_format the options ask for, or null. */
export function responseFormat(args) {
  const formats = [];
  if (args.flag('json')) formats.push({ type: 'json_object' });
  const schemaFile = args.get('json-schema');
  if (schemaFile !== undefined) {
    let schema;
    try {
      schema = JSON.parse(readText(schemaFile));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${schemaFile} is not valid JSON: ${e.message}`);
    }
    formats.push({ type: 'json_schema', json_schema: { name: 'output', schema } });
  }
  const grammarFile = args.get('grammar');
  if (grammarFile !== undefined) {
    formats.push({ type: 'grammar', grammar: readText(grammarFile), syntax: grammarFile.endsWith('.ebnf') ? 'ebnf' : 'gbnf' });
  }
  if (args.get('regex') !== undefined) formats.push({ type: 'regex', pattern: args.get('regex') });
  if (formats.length > 1) throw new UsageError('give at most one of --json, --json-schema, --grammar and --regex');
  return formats[0] ?? null;
}
