// Units 2p and 2p + 1 for matvec.wgsl's PAIRS, for the types whose decoder has no pair of its own: their
// units share no words.
fn $W_pair(row_byte: u32, p: u32) -> UnitPair {
  return UnitPair($W_unit(row_byte, 2u * p), $W_unit(row_byte, 2u * p + 1u));
}
