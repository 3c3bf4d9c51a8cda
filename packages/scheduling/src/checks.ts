/** Programmer-error check shared by the pickers: weights are finite and not negative. */
export function checkWeight(weight: number): void {
  if (!(weight >= 0) || weight === Infinity) throw new RangeError(`weight must be a finite number >= 0, got ${weight}`);
}

/** Programmer-error check shared by the pickers: i names an entry. */
export function checkIndex(i: number, size: number): void {
  if (!(i >= 0 && i < size) || !Number.isInteger(i)) throw new RangeError(`entry index ${i} out of range 0..${size - 1}`);
}
