//! A plugin's memory limit over *all* its linear memories together. wasmtime's
//! `StoreLimits` bounds each memory on its own, so a component with several memories
//! (several core modules, or multi-memory) could take the limit once per memory.

use wasmtime::ResourceLimiter;

/// Most linear memories one plugin instance may create.
const MEMORIES: usize = 16;
/// Most table elements of one table (a pointer each).
const TABLE_ELEMENTS: usize = 1 << 20;

/// Counts the bytes of every memory of one store against one limit.
#[derive(Debug)]
pub struct TotalMemory {
    limit: usize,
    used: usize,
    /// The last growth allowed, taken back if wasmtime then fails it.
    granted: usize,
}

impl TotalMemory {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            granted: 0,
        }
    }

    /// Bytes of linear memory granted so far: the instance's peak, since wasm memory
    /// never shrinks.
    pub fn used(&self) -> usize {
        self.used
    }
}

impl ResourceLimiter for TotalMemory {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let total = self.used.saturating_add(grow);
        if total > self.limit || maximum.is_some_and(|m| desired > m) {
            // The text names memory growth, which the host maps to the memory limit.
            wasmtime::bail!(
                "forcing trap when growing memory to {desired} bytes ({total} bytes in all memories)"
            );
        }
        self.used = total;
        self.granted = grow;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used = self.used.saturating_sub(self.granted);
        Err(error.context("forcing a memory growth failure to be a trap"))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS && maximum.is_none_or(|m| desired <= m))
    }

    fn memories(&self) -> usize {
        MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_covers_all_memories_together() {
        let mib = 1 << 20;
        let mut l = TotalMemory::new(10 * mib);
        // Two memories of 4 MiB each fit; growing either past the shared budget traps.
        assert!(l.memory_growing(0, 4 * mib, None).unwrap());
        assert!(l.memory_growing(0, 4 * mib, None).unwrap());
        assert!(l.memory_growing(4 * mib, 6 * mib, None).unwrap());
        let e = l.memory_growing(4 * mib, 5 * mib, None).unwrap_err();
        assert!(e.to_string().contains("growing memory"), "{e}");
        // A growth wasmtime then fails is not counted.
        let mut l = TotalMemory::new(10 * mib);
        assert!(l.memory_growing(0, 8 * mib, None).unwrap());
        let _ = l.memory_grow_failed(wasmtime::Error::msg("mmap failed"));
        assert!(l.memory_growing(0, 8 * mib, None).unwrap());
    }
}
