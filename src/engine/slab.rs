//! A generational slab: values addressed by (index, generation) keys.
//!
//! A key stays valid until its value is removed; the slot's generation then changes, so a
//! stale key (a late reply, a timeout that lost the race) finds nothing instead of finding
//! whatever reused the slot. Slots are recycled, so memory follows the peak number alive,
//! not the number ever created.

use std::num::NonZeroU32;

/// Address of a value in a [`Slab`]. Its generation is odd, hence never zero, so
/// `Option<Key>` is as small as a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: NonZeroU32,
}

/// The key of slot `index` at an occupied (odd) generation.
#[inline]
fn key(index: u32, generation: u32) -> Key {
    Key {
        index,
        generation: NonZeroU32::new(generation).unwrap_or(NonZeroU32::MIN),
    }
}

impl Key {
    /// Slot index (stable while the value lives).
    pub fn index(self) -> u32 {
        self.index
    }

    /// The key as one integer (to pack it into an event).
    #[inline]
    pub fn to_bits(self) -> u64 {
        (u64::from(self.generation.get()) << 32) | u64::from(self.index)
    }

    /// The key back from [`Key::to_bits`].
    #[inline]
    pub fn from_bits(bits: u64) -> Self {
        key(bits as u32, (bits >> 32) as u32)
    }
}

/// A slot: its value (stale while free) and its generation, odd while occupied.
#[derive(Clone, Copy)]
struct Slot<T> {
    generation: u32,
    value: T,
}

/// Values with generational keys and slot reuse.
///
/// Values are `Copy`: a freed slot keeps its stale value until reused, so freeing writes
/// nothing but the generation. A slot's generation is odd while it is occupied and even while
/// it is free, so one comparison with a key's (odd) generation checks both that the slot is
/// occupied and that it still holds the key's value.
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T: Copy + Default> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default> Slab<T> {
    /// An empty slab.
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Values alive.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no value is alive.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots ever allocated (the high-water mark).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Store a value and return its key.
    #[inline]
    pub fn insert(&mut self, value: T) -> Key {
        // Find the slot first, then write the value once, straight into it: a value built
        // before the branch would be staged on the stack and copied.
        let index = match self.free.pop() {
            Some(index) => index,
            None => self.grow(),
        };
        self.len += 1;
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.value = value;
        key(index, slot.generation)
    }

    /// A new free slot (up to the high-water mark), holding a placeholder.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> u32 {
        let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Slot {
            generation: 0,
            value: T::default(),
        });
        index
    }

    /// The value behind `key`, if it is still alive.
    #[inline]
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(s) if s.generation == key.generation.get() => Some(&s.value),
            _ => None,
        }
    }

    /// The value behind `key`, mutably, if it is still alive.
    #[inline]
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(s) if s.generation == key.generation.get() => Some(&mut s.value),
            _ => None,
        }
    }

    /// Remove and return the value behind `key`; stale keys return `None`.
    #[inline]
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let value = *self.get(key)?;
        self.free(key);
        Some(value)
    }

    /// Free the slot behind `key` without returning its value; false for a stale key.
    #[inline]
    pub fn free(&mut self, key: Key) -> bool {
        match self.slots.get_mut(key.index as usize) {
            Some(s) if s.generation == key.generation.get() => {
                // Even: free. (Keys are only ever made with odd generations.)
                s.generation = s.generation.wrapping_add(1);
                self.free.push(key.index);
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    /// Keys and values alive, in slot order (deterministic).
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.generation % 2 == 1)
            .map(|(i, s)| (key(i as u32, s.generation), &s.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_find_nothing_after_reuse() {
        let mut s = Slab::new();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index(), b.index());
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.capacity(), 1);
        let c = s.insert("c");
        assert_eq!(
            s.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec!["b", "c"]
        );
        assert_ne!(b, c);
        assert!(s.free(c));
        assert!(!s.free(c), "a freed key is stale");
        assert_eq!(s.get(c), None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.insert("d").index(), c.index(), "its slot is reused");
    }

    #[test]
    fn grown_and_reused_slots_have_odd_generations() {
        let mut s: Slab<u64> = Slab::new();
        let a = s.insert(1);
        assert_eq!(a.to_bits() >> 32, 1, "a new slot starts at generation 1");
        let b = s.insert(2);
        assert_eq!(s.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![1, 2]);
        assert!(s.free(a));
        assert_eq!(s.iter().count(), 1, "the freed slot is not listed");
        let c = s.insert(3);
        assert_eq!(c.index(), a.index());
        assert_eq!(c.to_bits() >> 32, 3);
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(b), Some(&2));
        assert_eq!(s.get(c), Some(&3));
        assert_eq!(Key::from_bits(c.to_bits()), c);
        assert_eq!(s.len(), 2);
        assert_eq!(s.capacity(), 2);
    }
}
