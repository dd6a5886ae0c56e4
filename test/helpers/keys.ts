/** The parts of a tenant API key `mgw_<12-char id>_<secret>`; the secret may itself contain "_". */
export function keyParts(key: string): { id: string; secret: string } {
  const match = /^mgw_([a-z0-9]{12})_(.+)$/.exec(key);
  if (!match) throw new Error(`not an API key: ${key}`);
  return { id: match[1]!, secret: match[2]! };
}
