// Work sharing between the caller's thread and the pool's workers. `ctl` holds an i64 claim word
// (job generation in the high half, next chunk in the low half) and, at ctl + 8, an i32 count of
// finished chunks that the caller waits on. A thread claims chunks until none are left, so one that
// the OS deschedules (a busy 2-core machine) leaves its share to the others; a worker that wakes up
// late for an old job sees another generation and returns without touching anything.

/** The next chunk index of job `gen`, or -1 when the job has none left (or is over). */
export function claim(ctl: usize, gen: i32, chunks: i32): i32 {
  while (true) {
    const old = atomic.load<i64>(ctl);
    if (<i32>(old >>> 32) != gen) return -1;
    const i = <i32>(old & 0xffffffff);
    if (i >= chunks) return -1;
    if (atomic.cmpxchg<i64>(ctl, old, old + 1) == old) return i;
  }
}

/** Marks one claimed chunk finished and wakes the caller if it waits. */
export function finish(ctl: usize): void {
  atomic.add<i32>(ctl + 8, 1);
  atomic.notify(ctl + 8, 1);
}
