// Queue-name globs (`*` any run of characters, `?` one) matched without a regular expression: the
// pattern is cut at its stars, the first and last pieces are anchored, and each piece between is
// taken at its leftmost place. Leftmost is always safe, so nothing is ever tried twice: the cost is
// at most the name's length times the pattern's, never exponential as a backtracking regex can be.

export function globMatch(glob: string, name: string): boolean {
  const pieces = glob.split("*");
  if (pieces.length === 1) return name.length === glob.length && matchesAt(glob, name, 0);
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  if (name.length < first.length + last.length) return false;
  if (!matchesAt(first, name, 0) || !matchesAt(last, name, name.length - last.length)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i];
    let found = -1;
    for (let start = at; start + piece.length <= end; start++) {
      if (matchesAt(piece, name, start)) {
        found = start;
        break;
      }
    }
    if (found < 0) return false;
    at = found + piece.length;
  }
  return true;
}

function matchesAt(piece: string, name: string, start: number): boolean {
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c !== 63 /* ? */ && c !== name.charCodeAt(start + i)) return false;
  }
  return true;
}
