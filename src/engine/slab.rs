//! A generational slab: values addressed by (index, generation) keys.
//!
//! A key stays valid until its value is removed; the slot's generation then changes, so a
//! stale key (a late reply, a timeout that lost the race) finds nothing instead of finding
//! whatever reused the slot. Slots are recycled, so memory follows the peak number alive,
//! not the number ever created.

/// Address of a value in a [`Slab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// Slot index (stable while the value lives).
    pub fn index(self) -> u32 {
        self.index
    }
}

enum Slot<T> {
    Occupied { generation: u32, value: T },
    Free { generation: u32, next_free: u32 },
}

const NO_FREE: u32 = u32::MAX;

/// Values with generational keys and slot reuse.
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free_head: NO_FREE,
            len: 0,
        }
    }

    /// Values alive.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no value is alive.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots ever allocated (the high-water mark).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Store a value and return its key.
    pub fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if self.free_head != NO_FREE {
            let index = self.free_head;
            let slot = &mut self.slots[index as usize];
            let (generation, next_free) = match slot {
                Slot::Free {
                    generation,
                    next_free,
                } => (*generation, *next_free),
                Slot::Occupied { .. } => unreachable!("free list points at an occupied slot"),
            };
            *slot = Slot::Occupied { generation, value };
            self.free_head = next_free;
            return Key { index, generation };
        }
        let index = u32::try_from(self.slots.len()).unwrap_or(NO_FREE - 1);
        self.slots.push(Slot::Occupied {
            generation: 0,
            value,
        });
        Key {
            index,
            generation: 0,
        }
    }

    /// The value behind `key`, if it is still alive.
    #[inline]
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Occupied { generation, value }) if *generation == key.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    /// The value behind `key`, mutably, if it is still alive.
    #[inline]
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(Slot::Occupied { generation, value }) if *generation == key.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    /// Remove and return the value behind `key`; stale keys return `None`.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { generation, .. } if *generation == key.generation => {}
            _ => return None,
        }
        let next_generation = key.generation.wrapping_add(1);
        let old = std::mem::replace(
            slot,
            Slot::Free {
                generation: next_generation,
                next_free: self.free_head,
            },
        );
        self.free_head = key.index;
        self.len -= 1;
        match old {
            Slot::Occupied { value, .. } => Some(value),
            Slot::Free { .. } => None,
        }
    }

    /// Free the slot behind `key` without returning its value; false for a stale key.
    #[inline]
    pub fn free(&mut self, key: Key) -> bool {
        let Some(slot) = self.slots.get_mut(key.index as usize) else {
            return false;
        };
        match slot {
            Slot::Occupied { generation, .. } if *generation == key.generation => {}
            _ => return false,
        }
        *slot = Slot::Free {
            generation: key.generation.wrapping_add(1),
            next_free: self.free_head,
        };
        self.free_head = key.index;
        self.len -= 1;
        true
    }

    /// Keys and values alive, in slot order (deterministic).
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Occupied { generation, value } => Some((
                Key {
                    index: i as u32,
                    generation: *generation,
                },
                value,
            )),
            Slot::Free { .. } => None,
        })
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
}
