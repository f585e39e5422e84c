//! An ordered parallel map on scoped threads, for pure per-item work of large batches (report
//! ids, payload kinds, beacon checks, addresses, hex scales). The result is the sequential
//! map's, item for item, whatever the thread count: threads cannot change an outcome.

/// Most threads [`map`] starts.
pub const MAX_THREADS: usize = 16;

/// `items.iter().map(f).collect()`, computed in one contiguous chunk per core (at most
/// [`MAX_THREADS`]).
///
/// # Panics
/// If `f` panics (the panic is propagated).
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, MAX_THREADS);
    if threads == 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for p in parts {
            out.extend(p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parallel_map_is_the_sequential_map() {
        let items: Vec<u64> = (0..10_001).collect();
        let f = |x: &u64| x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (x >> 3);
        assert_eq!(map(&items, f), items.iter().map(f).collect::<Vec<_>>());
        assert!(map(&[] as &[u64], f).is_empty());
        assert_eq!(map(&[7u64], f), vec![f(&7)]);
    }
}
