//! How the hot route calls reach a class's core object without napi's receiver check.
//!
//! napi checks every `&self` receiver (and every class instance argument) against one
//! process-wide borrow table, a mutex and a hash map: about 0.35 µs a call, as much as the rest
//! of the binding's work on a token check (bench/overhead.sh). The hot calls are free functions
//! instead, given the index of the object in this thread's own table: a JavaScript object lives
//! on one thread, and so does each table. The class holds its `Slot`; dropping the class (the
//! garbage collector's finalizer) empties it.

use crate::errors::{Result, invalid};
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::LocalKey;

/// One thread's objects of one kind, by index; freed indices are reused.
pub(crate) struct Table<T> {
    items: Vec<Option<Arc<T>>>,
    free: Vec<u32>,
}

impl<T> Table<T> {
    pub(crate) const fn new() -> Self {
        Table {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

/// The thread-local table of one kind.
pub(crate) type Key<T> = &'static LocalKey<RefCell<Table<T>>>;

/// An object's place in its table, for as long as the class holding it lives.
pub(crate) struct Slot<T: 'static> {
    index: u32,
    key: Key<T>,
}

impl<T> Slot<T> {
    /// Put `value` in this thread's table.
    pub(crate) fn new(key: Key<T>, value: Arc<T>) -> Self {
        let index = key.with_borrow_mut(|table| match table.free.pop() {
            Some(i) => {
                table.items[i as usize] = Some(value);
                i
            }
            None => {
                table.items.push(Some(value));
                (table.items.len() - 1) as u32
            }
        });
        Slot { index, key }
    }

    /// The index the hot calls are given.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        // The table is gone when the thread is exiting; there is nothing left to free then.
        let _ = self.key.try_with(|cell| {
            let mut table = cell.borrow_mut();
            table.items[self.index as usize] = None;
            table.free.push(self.index);
        });
    }
}

// The table is borrowed only to clone an `Arc` out of it, never while JavaScript can run, so a
// finalizer dropping a slot never finds it borrowed.
/// The object at `index` in this thread's table.
pub(crate) fn get<T>(key: Key<T>, index: u32) -> Result<Arc<T>> {
    key.with_borrow(|table| table.items.get(index as usize).cloned().flatten())
        .ok_or_else(|| invalid("this object belongs to another thread, or no longer exists"))
}

impl<T> std::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Slot").field(&self.index).finish()
    }
}
