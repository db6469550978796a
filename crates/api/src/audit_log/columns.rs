//! Counting from memory: a columnar copy of each project's entries in retention, which answers
//! the histograms, facets and match counts that rollups cannot (several filtered dimensions, a
//! search, a status filter beside another) without reading the entries row by row in SQL.
//!
//! Each entry is held as what a filter or a count reads — its time and seven dictionary-encoded
//! values (actor key, method, source, action, status code, resource type, resource key) plus the
//! index of its search text in a dictionary of the project's distinct search texts — about 27
//! bytes, in blocks of [`BLOCK_ROWS`] entries in chain order, each with its earliest and latest
//! time so that a window skips the blocks outside it. A filter becomes one table of booleans per
//! dimension (indexed by dictionary code), a search one pass over the distinct texts. A scan
//! works a block at a time and a column at a time: each filter marks the rows it fails in a
//! byte of flags per row (one branch-free pass over its column), then a count reads the flags —
//! a row passes when it has none, and counts for a dimension's facet when its only flag, if any,
//! is that dimension's own.
//!
//! Invariants:
//! * **The database is the source of truth; a copy is never ahead of it and never stale when
//!   read.** [`ColumnStore::current`] catches a copy up, on the connection the read uses, with
//!   the entries after the copy's last chain position: positions are gap-free and committed in
//!   order per project (each commit holds the project's chain head), so those rows are exactly
//!   what the copy lacks, whichever server wrote them.
//! * **Answers are exact and the same as the entries'.** Filters are the values
//!   [`crate::audit_log::filter_values`] gives the SQL path; a search is the lowercased term
//!   contained in the stored (lowercased) search text, or the actions and actors it also names.
//!   Tests compare every answer with a server that reads the entries.
//! * A copy that cannot answer says so (`None`) and the caller reads the entries: while the
//!   server is still loading copies at start, when a catch-up is longer than
//!   [`CATCH_UP_ROWS`], when a small dictionary outgrew its width, and for views filtered on a
//!   request id (those read the window's entries by index and are cheap).
//! * Entries past the retention horizon are never loaded; whole blocks past it are dropped as
//!   copies catch up. Windows are clamped to retention before they get here.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use diesel::prelude::*;
use indexmap::IndexSet;

use crate::audit_log::view::View;
use crate::audit_log::{rollup, Dimension};
use crate::clock::Clock;
use crate::db::schema::{audit_chain_heads, audit_entries, projects};
use crate::db::{DbConnection, DbPool};

/// Entries per block: the unit of time pruning and of dropping expired entries.
pub const BLOCK_ROWS: usize = 65_536;
/// The most entries a read catches up before it answers; a copy further behind answers `None`
/// this time (the read goes to the entries) and is caught up further by the next read.
pub const CATCH_UP_ROWS: i64 = 100_000;
/// A scan of at least this many entries is split between threads.
const PARALLEL_ROWS: usize = 262_144;
/// The most threads one scan uses.
const MAX_SCAN_THREADS: usize = 4;
/// Days before the retention horizon that copies still hold.
const HORIZON_MARGIN_DAYS: i64 = 2;
/// Entries read per query while a copy is loaded at start.
const LOAD_CHUNK: i64 = 50_000;

/// Every project's copy, shared by the server's workers.
pub struct ColumnStore {
    enabled: bool,
    clock: Clock,
    projects: RwLock<HashMap<i64, Arc<RwLock<ProjectColumns>>>>,
    /// Set once the copies of every project that existed at start are loaded: from then on a
    /// project without a copy is new and starts from an empty one.
    loaded: AtomicBool,
}

/// The counts a histogram reads: per bucket start (microseconds), entries per status class.
pub type BucketClassCounts = HashMap<i64, rollup::ClassCounts>;
/// The counts facets read: per dimension, stored value → entries.
pub type DimensionCounts = HashMap<Dimension, HashMap<String, i64>>;

impl ColumnStore {
    /// A store; a disabled one answers `None` to everything (every count reads the entries).
    pub fn new(enabled: bool, clock: Clock) -> Arc<ColumnStore> {
        Arc::new(ColumnStore {
            enabled,
            clock,
            projects: RwLock::new(HashMap::new()),
            loaded: AtomicBool::new(!enabled),
        })
    }

    /// Loads every project's copy on a thread of its own, the largest projects' work spread
    /// over the time it takes; reads answered before a project's copy is in read the entries.
    pub fn start_loading(store: Arc<ColumnStore>, pool: DbPool) {
        if !store.enabled {
            return;
        }
        std::thread::Builder::new()
            .name("column-loader".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                match store.load_all(&pool) {
                    Ok(entries) => tracing::info!(
                        entries,
                        seconds = started.elapsed().as_secs_f64(),
                        "loaded the in-memory columns of every project"
                    ),
                    Err(error) => tracing::error!(
                        error = format!("{error:#}"),
                        "cannot load the in-memory columns; counts read the entries until each project's copy catches up"
                    ),
                }
                store.loaded.store(true, Ordering::Release);
            })
            .expect("the column loader thread starts");
    }

    fn load_all(&self, pool: &DbPool) -> anyhow::Result<usize> {
        let mut conn = pool.get()?;
        let ids: Vec<i64> = projects::table
            .select(projects::id)
            .order(projects::id)
            .load(&mut conn)?;
        drop(conn);
        let mut total = 0;
        for project_id in ids {
            let mut copy = ProjectColumns::default();
            loop {
                // A connection per chunk: the loader never holds one for long.
                let mut conn = pool.get()?;
                let horizon = self.horizon();
                let rows = rows_after(&mut conn, project_id, copy.last_seq, horizon, LOAD_CHUNK)?;
                let read = rows.len() as i64;
                copy.append(rows, horizon);
                if read < LOAD_CHUNK {
                    break;
                }
            }
            total += copy.len();
            self.projects
                .write()
                .expect("the column store's lock")
                .entry(project_id)
                .or_insert_with(|| Arc::new(RwLock::new(copy)));
        }
        Ok(total)
    }

    /// The oldest time a copy holds: the retention horizon, less a margin of [`HORIZON_MARGIN_DAYS`]
    /// so that a clock set back by less than that never asks for an entry a copy skipped.
    fn horizon(&self) -> i64 {
        (crate::db::retention_horizon(self.clock.now())
            - chrono::Duration::days(HORIZON_MARGIN_DAYS))
        .timestamp_micros()
    }

    /// The project's copy, caught up with what `conn` sees, to read with `read`; `None` when it
    /// cannot answer (see the module's invariants).
    pub fn with_current<T>(
        &self,
        conn: &mut DbConnection,
        project_id: i64,
        validated: &View,
        read: impl FnOnce(&ProjectColumns) -> T,
    ) -> QueryResult<Option<T>> {
        if !self.enabled || validated.query.request_id.is_some() {
            return Ok(None);
        }
        let existing = self
            .projects
            .read()
            .expect("the column store's lock")
            .get(&project_id)
            .cloned();
        let copy = match existing {
            Some(copy) => copy,
            None if self.loaded.load(Ordering::Acquire) => self
                .projects
                .write()
                .expect("the column store's lock")
                .entry(project_id)
                .or_default()
                .clone(),
            None => return Ok(None),
        };
        let horizon = self.horizon();
        let last_seq = copy.read().expect("a project's column lock").last_seq;
        let head: Option<i64> = audit_chain_heads::table
            .find(project_id)
            .select(audit_chain_heads::chain_seq)
            .first(conn)
            .optional()?;
        if head.is_some_and(|head| head > last_seq) {
            let rows = rows_after(conn, project_id, last_seq, horizon, CATCH_UP_ROWS)?;
            let complete = (rows.len() as i64) < CATCH_UP_ROWS;
            let mut writable = copy.write().expect("a project's column lock");
            writable.append(rows, horizon);
            if !complete {
                return Ok(None);
            }
            // Everything up to the head was read (older entries past the horizon are skipped,
            // not missing).
            writable.last_seq = writable.last_seq.max(head.unwrap_or(0));
        }
        let readable = copy.read().expect("a project's column lock");
        if readable.overflowed {
            return Ok(None);
        }
        Ok(Some(read(&readable)))
    }
}

/// One stored row as a copy reads it:
/// `(chain_seq, ts, actor_key, method, source, action, status_code, resource_type, resource_key,
/// search_text, actor_name, resource_name)`.
type ColumnRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i32,
    String,
    String,
    String,
    String,
    String,
);

/// The project's entries after chain position `after` inside retention, in chain order, at most
/// `limit`.
fn rows_after(
    conn: &mut DbConnection,
    project_id: i64,
    after: i64,
    horizon: i64,
    limit: i64,
) -> QueryResult<Vec<ColumnRow>> {
    use audit_entries::dsl;
    dsl::audit_entries
        .filter(dsl::project_id.eq(project_id))
        .filter(dsl::chain_seq.gt(after))
        .filter(dsl::ts.ge(horizon))
        .order(dsl::chain_seq.asc())
        .limit(limit)
        .select((
            dsl::chain_seq,
            dsl::ts,
            dsl::actor_key,
            dsl::method,
            dsl::source,
            dsl::action,
            dsl::status_code,
            dsl::resource_type,
            dsl::resource_key,
            dsl::search_text,
            dsl::actor_name,
            dsl::resource_name,
        ))
        .load(conn)
}

/// One project's entries, by column.
#[derive(Default)]
pub struct ProjectColumns {
    /// The chain position of the newest entry held (or known to be past the horizon).
    last_seq: i64,
    blocks: Vec<Block>,
    actors: IndexSet<Box<str>>,
    methods: IndexSet<Box<str>>,
    sources: IndexSet<Box<str>>,
    actions: IndexSet<Box<str>>,
    statuses: IndexSet<i32>,
    resource_types: IndexSet<Box<str>>,
    resources: IndexSet<Box<str>>,
    search_texts: IndexSet<Box<str>>,
    /// The names entries recorded for their actor and resource (names change; entries keep the
    /// one they were recorded with): per actor or resource code, each change as the position of
    /// the first row with the name and the name's code in `names`.
    actor_names: Vec<Vec<(u64, u32)>>,
    resource_names: Vec<Vec<(u64, u32)>>,
    names: IndexSet<Box<str>>,
    /// The position the next row appended gets (positions count every row ever appended).
    next_position: u64,
    /// A dictionary stored in fewer than 32 bits outgrew its width: this copy answers nothing.
    overflowed: bool,
}

#[derive(Default)]
struct Block {
    /// The position of the block's first row.
    first_position: u64,
    min_ts: i64,
    max_ts: i64,
    ts: Vec<i64>,
    actor: Vec<u32>,
    method: Vec<u8>,
    source: Vec<u8>,
    action: Vec<u16>,
    status: Vec<u16>,
    resource_type: Vec<u8>,
    resource: Vec<u32>,
    search: Vec<u32>,
}

/// The dictionary code of `value`, added when new.
fn code<T: Hash + Eq>(dictionary: &mut IndexSet<T>, value: T) -> usize {
    dictionary.insert_full(value).0
}

fn boxed(value: String) -> Box<str> {
    value.into_boxed_str()
}

fn code_of_name(names: &mut IndexSet<Box<str>>, name: String) -> u32 {
    code(names, boxed(name)) as u32
}

impl ProjectColumns {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(|b| b.ts.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends rows read after `last_seq` (those at or before it, read by a concurrent
    /// catch-up, are skipped) and drops whole blocks that ended before `horizon`.
    fn append(&mut self, rows: Vec<ColumnRow>, horizon: i64) {
        for (
            seq,
            ts,
            actor,
            method,
            source,
            action,
            status,
            resource_type,
            resource,
            search,
            actor_name,
            resource_name,
        ) in rows
        {
            if seq <= self.last_seq {
                continue;
            }
            self.last_seq = seq;
            let actor = code(&mut self.actors, boxed(actor));
            let method = code(&mut self.methods, boxed(method));
            let source = code(&mut self.sources, boxed(source));
            let action = code(&mut self.actions, boxed(action));
            let status = code(&mut self.statuses, status);
            let resource_type = code(&mut self.resource_types, boxed(resource_type));
            let resource = code(&mut self.resources, boxed(resource));
            let search = code(&mut self.search_texts, boxed(search));
            let (Ok(method), Ok(source), Ok(action), Ok(status), Ok(resource_type)) = (
                u8::try_from(method),
                u8::try_from(source),
                u16::try_from(action),
                u16::try_from(status),
                u8::try_from(resource_type),
            ) else {
                if !self.overflowed {
                    tracing::warn!(
                        "a project's in-memory columns outgrew a dictionary; its counts read the entries"
                    );
                }
                self.overflowed = true;
                continue;
            };
            let position = self.next_position;
            self.next_position += 1;
            for (changes, code, name) in [
                (&mut self.actor_names, actor, actor_name),
                (&mut self.resource_names, resource, resource_name),
            ] {
                let name = code_of_name(&mut self.names, name);
                if changes.len() <= code {
                    changes.resize_with(code + 1, Vec::new);
                }
                if changes[code].last().map(|&(_, last)| last) != Some(name) {
                    changes[code].push((position, name));
                }
            }
            if self.blocks.last().is_none_or(|b| b.ts.len() >= BLOCK_ROWS) {
                self.blocks.push(Block {
                    first_position: position,
                    min_ts: ts,
                    max_ts: ts,
                    ..Block::default()
                });
            }
            let block = self.blocks.last_mut().expect("a block to append to");
            block.min_ts = block.min_ts.min(ts);
            block.max_ts = block.max_ts.max(ts);
            block.ts.push(ts);
            block.actor.push(actor as u32);
            block.method.push(method);
            block.source.push(source);
            block.action.push(action);
            block.status.push(status);
            block.resource_type.push(resource_type);
            block.resource.push(resource as u32);
            block.search.push(search as u32);
        }
        while self.blocks.len() > 1 && self.blocks[0].max_ts < horizon {
            self.blocks.remove(0);
        }
    }

    /// Entries passing every filter and the search, per `width`-wide bucket (keyed by its
    /// start) and status class.
    pub fn bucket_class_counts(&self, validated: &View, width: i64) -> BucketClassCounts {
        let view = self.compile(validated);
        let (from, to) = window(validated);
        let first = from.div_euclid(width) * width;
        let buckets = (((to - 1).div_euclid(width) * width - first) / width + 1).max(0) as usize;
        let classes: Vec<Option<usize>> = self
            .statuses
            .iter()
            .map(|&code| usize::try_from(code / 100 - 1).ok().filter(|c| *c < 5))
            .collect();
        let counts = self.in_parts(
            from,
            to,
            |blocks| {
                let mut counts = vec![[0_i64; 5]; buckets];
                view.for_each_block(blocks, from, to, |block, masks| {
                    for ((&mask, &ts), &status) in masks.iter().zip(&block.ts).zip(&block.status) {
                        if mask == 0 {
                            if let Some(class) = classes[usize::from(status)] {
                                counts[((ts - first) / width) as usize][class] += 1;
                            }
                        }
                    }
                });
                counts
            },
            |mut counts, more| {
                for (into, more) in counts.iter_mut().zip(more) {
                    for (total, more) in into.iter_mut().zip(more) {
                        *total += more;
                    }
                }
                counts
            },
        );
        counts
            .into_iter()
            .enumerate()
            .filter(|(_, classes)| classes.iter().any(|c| *c > 0))
            .map(|(index, classes)| (first + index as i64 * width, classes))
            .collect()
    }

    /// How many entries pass every filter and the search.
    pub fn count(&self, validated: &View) -> i64 {
        let view = self.compile(validated);
        let (from, to) = window(validated);
        self.in_parts(
            from,
            to,
            |blocks| {
                let mut total = 0;
                view.for_each_block(blocks, from, to, |_, masks| {
                    total += masks.iter().filter(|&&mask| mask == 0).count() as i64;
                });
                total
            },
            |total, more| total + more,
        )
    }

    /// For each of `dimensions`, its stored values' counts over the entries passing every
    /// filter but its own (and the search): what [`crate::audit_log::facets`] lists.
    pub fn facet_counts(&self, validated: &View, dimensions: &[Dimension]) -> DimensionCounts {
        let view = self.compile(validated);
        let (from, to) = window(validated);
        let wanted: Vec<Dimension> = Dimension::ALL
            .into_iter()
            .filter(|d| dimensions.contains(d))
            .collect();
        // Per dimension, counts by dictionary code (application and cluster both by resource),
        // in `lanes(width)` tables side by side; an empty vector for a dimension not asked for.
        let counts = self.in_parts(
            from,
            to,
            |blocks| {
                let mut counts: [Vec<i64>; 8] = Default::default();
                for &dimension in &wanted {
                    let width = self.dictionary_len(dimension);
                    counts[slot(dimension)] = vec![0; lanes(width) * width];
                }
                view.for_each_block(blocks, from, to, |block, masks| {
                    // A row counts for a dimension when it fails no filter but that
                    // dimension's own: one branch-free pass over the dimension's column.
                    for &dimension in &wanted {
                        block.column(dimension).count_passing(
                            masks,
                            1 << slot(dimension),
                            &mut counts[slot(dimension)],
                            self.dictionary_len(dimension),
                        );
                    }
                });
                counts
            },
            |mut counts, more| {
                for (into, more) in counts.iter_mut().zip(more) {
                    for (total, more) in into.iter_mut().zip(more) {
                        *total += more;
                    }
                }
                counts
            },
        );
        let mut answer = DimensionCounts::new();
        for dimension in wanted {
            let prefix = match dimension {
                Dimension::Application => Some("application:"),
                Dimension::Cluster => Some("cluster:"),
                _ => None,
            };
            let values = answer.entry(dimension).or_default();
            let tallied = &counts[slot(dimension)];
            let width = self.dictionary_len(dimension);
            for code in 0..width {
                let count: i64 = tallied.iter().skip(code).step_by(width).sum();
                if count == 0 {
                    continue;
                }
                let value = self.value(dimension, code);
                if prefix.is_none_or(|prefix| value.starts_with(prefix)) {
                    values.insert(value, count);
                }
            }
        }
        answer
    }

    /// For each of `values` of a named dimension (actor keys; application or cluster ids), the
    /// name recorded on its newest entry in the window (by time, then chain order), or `None`
    /// when it has no entry there. Blocks are read newest first, and the read stops once every
    /// value is found and no older block reaches past the oldest newest entry found.
    pub fn newest_names(
        &self,
        validated: &View,
        dimension: Dimension,
        values: &[String],
    ) -> HashMap<String, Option<String>> {
        let (from, to) = window(validated);
        let (dictionary, changes) = match dimension {
            Dimension::Actor => (&self.actors, &self.actor_names),
            Dimension::Application | Dimension::Cluster => (&self.resources, &self.resource_names),
            _ => return HashMap::new(),
        };
        let key = |value: &str| match dimension {
            Dimension::Application => format!("application:{value}"),
            Dimension::Cluster => format!("cluster:{value}"),
            _ => value.to_string(),
        };
        // Per wanted code, the newest (time, position) seen.
        let mut wanted: HashMap<usize, Option<(i64, u64)>> = values
            .iter()
            .filter_map(|value| dictionary.get_index_of(key(value).as_str()))
            .map(|code| (code, None))
            .collect();
        let mut missing = wanted.len();
        let mut reaches: Vec<i64> = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let before = reaches.last().copied().unwrap_or(i64::MIN);
            reaches.push(before.max(block.max_ts));
        }
        for (index, block) in self.blocks.iter().enumerate().rev() {
            if missing == 0 {
                let oldest_found = wanted
                    .values()
                    .filter_map(|found| found.map(|(ts, _)| ts))
                    .min()
                    .unwrap_or(i64::MAX);
                if reaches[index] < oldest_found {
                    break;
                }
            }
            if block.max_ts < from || block.min_ts >= to {
                continue;
            }
            for row in 0..block.ts.len() {
                let ts = block.ts[row];
                if ts < from || ts >= to {
                    continue;
                }
                let code = match dimension {
                    Dimension::Actor => block.actor[row] as usize,
                    _ => block.resource[row] as usize,
                };
                if let Some(found) = wanted.get_mut(&code) {
                    let here = (ts, block.first_position + row as u64);
                    if found.is_none() {
                        missing -= 1;
                    }
                    if found.is_none_or(|newest| here > newest) {
                        *found = Some(here);
                    }
                }
            }
        }
        values
            .iter()
            .map(|value| {
                let name = dictionary
                    .get_index_of(key(value).as_str())
                    .and_then(|code| wanted.get(&code).copied().flatten().map(|f| (code, f)))
                    .map(|(code, (_, position))| {
                        let runs = &changes[code];
                        let run = runs.partition_point(|&(start, _)| start <= position);
                        self.names[runs[run - 1].1 as usize].to_string()
                    });
                (value.clone(), name)
            })
            .collect()
    }

    /// Runs `scan` over the blocks that overlap `[from, to)` — in parts at once, one per core
    /// (at most [`MAX_SCAN_THREADS`]), when they hold at least [`PARALLEL_ROWS`] entries — and
    /// merges what the parts return.
    fn in_parts<A: Send>(
        &self,
        from: i64,
        to: i64,
        scan: impl Fn(&[&Block]) -> A + Sync,
        merge: impl Fn(A, A) -> A,
    ) -> A {
        let blocks: Vec<&Block> = self
            .blocks
            .iter()
            .filter(|block| block.max_ts >= from && block.min_ts < to)
            .collect();
        let rows: usize = blocks.iter().map(|block| block.ts.len()).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_SCAN_THREADS)
            .min(blocks.len());
        if rows < PARALLEL_ROWS || threads < 2 {
            return scan(&blocks);
        }
        let part = blocks.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = blocks
                .chunks(part)
                .map(|part| scope.spawn(|| scan(part)))
                .collect();
            parts
                .into_iter()
                .map(|part| part.join().expect("a scan thread finishes"))
                .reduce(&merge)
                .expect("at least one part")
        })
    }

    fn dictionary_len(&self, dimension: Dimension) -> usize {
        match dimension {
            Dimension::Actor => self.actors.len(),
            Dimension::Method => self.methods.len(),
            Dimension::Source => self.sources.len(),
            Dimension::Action => self.actions.len(),
            Dimension::Status => self.statuses.len(),
            Dimension::ResourceType => self.resource_types.len(),
            Dimension::Application | Dimension::Cluster => self.resources.len(),
        }
    }

    /// The stored value (as the facets and filters spell it) of a dimension's code.
    fn value(&self, dimension: Dimension, code: usize) -> String {
        let text = |dictionary: &IndexSet<Box<str>>| dictionary[code].to_string();
        match dimension {
            Dimension::Actor => text(&self.actors),
            Dimension::Method => text(&self.methods),
            Dimension::Source => text(&self.sources),
            Dimension::Action => text(&self.actions),
            Dimension::Status => self.statuses[code].to_string(),
            Dimension::ResourceType => text(&self.resource_types),
            Dimension::Application | Dimension::Cluster => text(&self.resources),
        }
    }

    /// The view's filters and search as tables over this copy's dictionaries.
    fn compile(&self, validated: &View) -> CompiledView {
        let mut filters = Vec::new();
        for dimension in Dimension::ALL {
            let (include, exclude) = crate::audit_log::filter_values(validated, dimension);
            if include.is_empty() && exclude.is_empty() {
                continue;
            }
            let passes = |value: &str| {
                (include.is_empty() || include.iter().any(|i| i == value))
                    && !exclude.iter().any(|e| e == value)
            };
            let table: Vec<bool> = (0..self.dictionary_len(dimension))
                .map(|code| passes(&self.value(dimension, code)))
                .collect();
            filters.push((dimension, table));
        }
        let search = validated.query.search.as_ref().map(|term| {
            let term = term.as_str().to_lowercase();
            let also = &validated.search_also;
            SearchTables {
                text: self
                    .search_texts
                    .iter()
                    .map(|text| text.contains(term.as_str()))
                    .collect(),
                action: self
                    .actions
                    .iter()
                    .map(|action| also.actions.iter().any(|a| a.as_str() == &**action))
                    .collect(),
                actor: self
                    .actors
                    .iter()
                    .map(|actor| also.actor_keys.iter().any(|a| a.as_str() == &**actor))
                    .collect(),
            }
        });
        CompiledView { filters, search }
    }
}

/// A row's mask when it is outside the window or the search does not match it: every bit set,
/// so it passes no filter set and counts nowhere.
const EXCLUDED: u8 = u8::MAX;

struct SearchTables {
    text: Vec<bool>,
    action: Vec<bool>,
    actor: Vec<bool>,
}

struct CompiledView {
    /// Per filtered dimension, whether each dictionary code passes its filter.
    filters: Vec<(Dimension, Vec<bool>)>,
    search: Option<SearchTables>,
}

impl CompiledView {
    /// Calls `each` for every block that overlaps `[from, to)` with its rows' masks: a row's
    /// mask has the bit `1 << slot(d)` set when the row fails dimension `d`'s filter, and is
    /// [`EXCLUDED`] when the row is outside the window or the search does not match it. A row
    /// passes the view when its mask is 0.
    ///
    /// The masks are built a column at a time (one branch-free pass per filter), which is what
    /// keeps a scan of millions of rows within tens of milliseconds.
    fn for_each_block(
        &self,
        blocks: &[&Block],
        from: i64,
        to: i64,
        mut each: impl FnMut(&Block, &[u8]),
    ) {
        let mut masks: Vec<u8> = Vec::with_capacity(BLOCK_ROWS);
        for block in blocks {
            if block.max_ts < from || block.min_ts >= to {
                continue;
            }
            masks.clear();
            masks.resize(block.ts.len(), 0);
            if block.min_ts < from || block.max_ts >= to {
                for (mask, &ts) in masks.iter_mut().zip(&block.ts) {
                    *mask |= EXCLUDED * u8::from(ts < from || ts >= to);
                }
            }
            if let Some(search) = &self.search {
                let rows = masks
                    .iter_mut()
                    .zip(&block.search)
                    .zip(&block.action)
                    .zip(&block.actor);
                for (((mask, &text), &action), &actor) in rows {
                    let hit = search.text[text as usize]
                        | search.action[usize::from(action)]
                        | search.actor[actor as usize];
                    *mask |= EXCLUDED * u8::from(!hit);
                }
            }
            for (dimension, table) in &self.filters {
                block
                    .column(*dimension)
                    .mark_failing(table, 1 << slot(*dimension), &mut masks);
            }
            each(block, &masks);
        }
    }
}

/// One dimension's column of a block, at its stored width.
enum Column<'a> {
    Narrow(&'a [u8]),
    Medium(&'a [u16]),
    Wide(&'a [u32]),
}

impl Column<'_> {
    /// Sets `bit` in the mask of every row whose code fails `passes` (indexed by code).
    fn mark_failing(&self, passes: &[bool], bit: u8, masks: &mut [u8]) {
        match self {
            Column::Narrow(codes) => mark_failing(codes, passes, bit, masks),
            Column::Medium(codes) => mark_failing(codes, passes, bit, masks),
            Column::Wide(codes) => mark_failing(codes, passes, bit, masks),
        }
    }

    /// Adds to `tally` (made by [`lanes`]: one table per lane, each indexed by code) every row
    /// whose mask has no bit but `own`.
    fn count_passing(&self, masks: &[u8], own: u8, tally: &mut [i64], width: usize) {
        match self {
            Column::Narrow(codes) => count_passing(codes, masks, own, tally, width),
            Column::Medium(codes) => count_passing(codes, masks, own, tally, width),
            Column::Wide(codes) => count_passing(codes, masks, own, tally, width),
        }
    }
}

/// A dictionary code as stored in a column.
trait Code: Copy {
    fn index(self) -> usize;
}

impl Code for u8 {
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Code for u16 {
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Code for u32 {
    fn index(self) -> usize {
        self as usize
    }
}

fn mark_failing<C: Code>(codes: &[C], passes: &[bool], bit: u8, masks: &mut [u8]) {
    for (mask, code) in masks.iter_mut().zip(codes) {
        *mask |= bit * u8::from(!passes[code.index()]);
    }
}

/// Dictionaries at most this long are counted in [`LANES`] tables side by side.
const LANED_CODES: usize = 4_096;
/// Rows counted side by side: consecutive rows with the same code add to different tables, so
/// their additions do not wait for each other (a column with few values, such as the method,
/// would otherwise add to one counter row after row).
const LANES: usize = 4;

/// How many tables a facet of a dictionary of `width` codes is counted in; a code's count is
/// the sum of its entries in them (`tally[lane * width + code]`).
fn lanes(width: usize) -> usize {
    if width <= LANED_CODES {
        LANES
    } else {
        1
    }
}

fn count_passing<C: Code>(codes: &[C], masks: &[u8], own: u8, tally: &mut [i64], width: usize) {
    let others = !own;
    if lanes(width) == 1 {
        for (&mask, code) in masks.iter().zip(codes) {
            tally[code.index()] += i64::from(mask & others == 0);
        }
        return;
    }
    let (first, rest) = tally.split_at_mut(width);
    let (second, rest) = rest.split_at_mut(width);
    let (third, fourth) = rest.split_at_mut(width);
    let mask_groups = masks.chunks_exact(LANES);
    let leftover = mask_groups.remainder().len();
    for (mask, code) in mask_groups.zip(codes.chunks_exact(LANES)) {
        first[code[0].index()] += i64::from(mask[0] & others == 0);
        second[code[1].index()] += i64::from(mask[1] & others == 0);
        third[code[2].index()] += i64::from(mask[2] & others == 0);
        fourth[code[3].index()] += i64::from(mask[3] & others == 0);
    }
    let tail = masks.len() - leftover;
    for (&mask, code) in masks[tail..].iter().zip(&codes[tail..]) {
        first[code.index()] += i64::from(mask & others == 0);
    }
}

impl Block {
    /// A dimension's column (application and cluster are both the resource column).
    fn column(&self, dimension: Dimension) -> Column<'_> {
        match dimension {
            Dimension::Actor => Column::Wide(&self.actor),
            Dimension::Method => Column::Narrow(&self.method),
            Dimension::Source => Column::Narrow(&self.source),
            Dimension::Action => Column::Medium(&self.action),
            Dimension::Status => Column::Medium(&self.status),
            Dimension::ResourceType => Column::Narrow(&self.resource_type),
            Dimension::Application | Dimension::Cluster => Column::Wide(&self.resource),
        }
    }
}

/// A dimension's place in per-dimension arrays (its place in `Dimension::ALL`, which lists
/// them in declaration order).
fn slot(dimension: Dimension) -> usize {
    dimension as usize
}

fn window(validated: &View) -> (i64, i64) {
    (
        validated.window.from.timestamp_micros(),
        validated.window.to.timestamp_micros(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy large enough to be scanned in parts counts what a plain count of its rows gives:
    /// facets (each dimension without its own filter), the histogram and the total.
    #[test]
    fn a_copy_scanned_in_parts_counts_like_its_rows() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let validated = View::resolved(
            crate::audit_query::ValidatedQuery::from_query_string(
                "range=7d&method.not=GET&status=4xx&status=201&application.not=7&q=ap",
                now,
            )
            .unwrap(),
            Default::default(),
            Vec::new(),
        );
        let (from, to) = window(&validated);
        let methods = ["GET", "POST", "DELETE", "PATCH"];
        let statuses = [200, 201, 404, 403, 500];
        let rows: Vec<ColumnRow> = (0..PARALLEL_ROWS as i64 * 2)
            .map(|i| {
                (
                    i + 1,
                    // Ten days of entries, so that the window leaves some out on both sides.
                    to - 9 * 86_400_000_000 + i * 1_500_000 + (i % 7) * 1_000,
                    format!("user:{}", i % 13),
                    methods[(i % 4) as usize].to_string(),
                    "api".to_string(),
                    format!("application.action{}", i % 5),
                    statuses[(i % 5) as usize],
                    "application".to_string(),
                    // More resources than a laned count takes, so both ways of counting run.
                    format!("application:{}", i % 5_003),
                    format!(
                        "/api/v1/projects/1/{}",
                        ["apps", "clusters", "tokens"][(i % 3) as usize]
                    ),
                    format!("User {}", i % 13),
                    format!("app-{}", i % 11),
                )
            })
            .collect();
        let passes = |row: &ColumnRow, skip: Option<Dimension>| {
            let (_, ts, _, method, _, _, status, _, resource, search, _, _) = row;
            *ts >= from
                && *ts < to
                && search.contains("ap")
                && (skip == Some(Dimension::Method) || method != "GET")
                && (skip == Some(Dimension::Application) || resource != "application:7")
                && (skip == Some(Dimension::Status)
                    || (400..500).contains(status)
                    || *status == 201)
        };
        let mut expected: DimensionCounts = HashMap::new();
        for row in &rows {
            for (dimension, value) in [
                (Dimension::Actor, row.2.clone()),
                (Dimension::Method, row.3.clone()),
                (Dimension::Status, row.6.to_string()),
                (Dimension::Application, row.8.clone()),
            ] {
                if passes(row, Some(dimension)) {
                    *expected
                        .entry(dimension)
                        .or_default()
                        .entry(value)
                        .or_default() += 1;
                }
            }
        }
        let total = rows.iter().filter(|row| passes(row, None)).count() as i64;
        let mut copy = ProjectColumns::default();
        copy.append(rows, 0);
        assert!(copy.blocks.len() > 2);
        let dimensions = [
            Dimension::Actor,
            Dimension::Method,
            Dimension::Status,
            Dimension::Application,
        ];
        assert_eq!(copy.facet_counts(&validated, &dimensions), expected);
        assert_eq!(copy.count(&validated), total);
        let buckets = copy.bucket_class_counts(&validated, 3_600_000_000);
        assert_eq!(buckets.values().flatten().sum::<i64>(), total);
    }

    #[test]
    fn slots_follow_the_canonical_order() {
        for (index, dimension) in Dimension::ALL.into_iter().enumerate() {
            assert_eq!(slot(dimension), index, "{dimension}");
        }
    }
}
