const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** A size in bytes (as Cairn sends Int64: a string), for people. */
export function bytes(size: string | number): string {
  let value = Number(size);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function when(timestamp: string | null | undefined): string {
  return timestamp ? new Date(timestamp).toLocaleString() : "—";
}
