//! Parsed `tools` lists by their JSON text, so a list an agent sends with every request is
//! parsed once (see `members` for how a request's known list is cut out before parsing).

use std::sync::Arc;

use crate::wire::{self, Tool};

/// Most distinct `tools` lists kept parsed (a run offers one or a few); past it the one used
/// least recently is dropped.
const TOOL_LISTS: usize = 64;

/// Parsed `tools` lists by their JSON text. An agent sends the same tools with every request,
/// and parsing them (names, schemas kept as text) was a fifth of parsing a request.
#[derive(Default)]
pub struct ToolCache {
    /// Each list's text and its tools, the one used last first: a run's requests find theirs
    /// at the front, and the comparisons that fail stop within a few bytes.
    lists: std::sync::Mutex<Vec<ToolList>>,
}

/// A `tools` text and the tools it lists.
type ToolList = (Box<str>, Arc<[Tool]>);

impl ToolCache {
    /// The known list `text` starts with: its length in bytes and its tools. `text` is a
    /// request from the start of its `tools` value on (see `members`).
    pub fn known_prefix(&self, text: &str) -> Option<(usize, Arc<[Tool]>)> {
        self.find(|seen| text.starts_with(seen))
    }

    /// The tools of `text` (a request's `tools` value), parsed once per distinct text.
    pub fn get(&self, text: &str) -> Result<Arc<[Tool]>, serde_json::Error> {
        if let Some((_, tools)) = self.find(|seen| seen == text) {
            return Ok(tools);
        }
        let tools: Arc<[Tool]> = wire::parse_tools(text)?.into();
        let mut lists = self.lock();
        lists.truncate(TOOL_LISTS - 1);
        lists.insert(0, (Box::from(text), Arc::clone(&tools)));
        Ok(tools)
    }

    /// The first list whose text matches, moved to the front.
    fn find(&self, matches: impl Fn(&str) -> bool) -> Option<(usize, Arc<[Tool]>)> {
        let mut lists = self.lock();
        let at = lists.iter().position(|(seen, _)| matches(seen))?;
        lists[..=at].rotate_right(1);
        let (seen, tools) = &lists[0];
        Some((seen.len(), Arc::clone(tools)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ToolList>> {
        self.lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::ToolCache;

    fn list(name: &str) -> String {
        format!(r#"[{{"type":"function","function":{{"name":"{name}"}}}}]"#)
    }

    /// A list is known once parsed; a body from a known list on finds it and its length, the
    /// most recent first; text that only shares a start with a list is not taken for it.
    #[test]
    fn known_lists_are_found_at_the_start_of_a_value() {
        let cache = ToolCache::default();
        let (a, b) = (list("lookup"), list("search"));
        assert!(
            cache
                .known_prefix(&format!("{a},\"stream\":true}}"))
                .is_none()
        );
        assert_eq!(cache.get(&a).expect("parses")[0].function.name, "lookup");
        assert!(cache.get("[{\"function\":5}]").is_err());
        assert_eq!(cache.get(&b).expect("parses")[0].function.name, "search");

        let (len, tools) = cache
            .known_prefix(&format!("{a},\"stream\":true}}"))
            .expect("known");
        assert_eq!((len, tools[0].function.name.as_str()), (a.len(), "lookup"));
        assert_eq!(cache.lock()[0].0.as_ref(), a, "moved to the front");
        // The same start, another list: not known.
        assert!(
            cache
                .known_prefix(&a.replace("lookup", "lookups"))
                .is_none()
        );
        assert!(cache.known_prefix(&a[..a.len() - 1]).is_none());
    }
}
