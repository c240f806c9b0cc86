//! The transaction API a script sees: the global table `sop`.
//!
//! ```lua
//! sop.ensure_store(name [, {unique = true, key_spec = "last,age:desc"}]) -- true if it made it
//! sop.create_store(name [, opts])      sop.store_exists(name)
//! sop.get(store, key)          --> the value, or nil
//! sop.put(store, key, value)   --> true if added, false if it replaced (unique stores replace)
//! sop.remove(store, key)       --> true if an item went
//! sop.count(store)             --> items
//! sop.range(store [, {from = k, to = k, desc = false, limit = n}])  --> { {key = k, value = v}, ... }
//! sop.submit(script, args [, {key =, priority =, not_before_ms =, max_attempts =, queue =, after = {ids}}])  --> job id
//! sop.job_id                   --> the job this run belongs to, or nil
//! sop.now_ms()  sop.log(...)  sop.null
//! sop.checkpoint(state)        -- commit here, with state (see Run); sop.resumed: the last one
//! -- only with a manifest the runner admits (crate::grants):
//! sop.read_file(path)  sop.list_dir(path)  sop.write_file(path, data)
//! ```
//!
//! Everything runs in the run's one `ForWriting` transaction. Keys and values
//! are JSON documents (see [`crate::json`]). The swarm's own stores
//! (`_swarm.*`) are closed to scripts. An error a script may handle (a store
//! that is missing, a key that does not fit) is a Lua error it can catch with
//! `pcall`; a failure of the database itself also ends the run, whatever the
//! script does, so that it is retried or reported as what it is.

use crate::error::{Result, SwarmError};
use crate::grants::{self, Grants, Reach};
use crate::jobs::{self, SubmitOptions};
use crate::json::{from_lua, to_lua};
use crate::names;
use crate::sandbox::{self, Limits};
use crate::scripts::ScriptVersion;
use mlua::{Table, Value as LuaValue};
use serde_json::Value;
use sop::{IndexSpec, JsonStore, StoreOptions, Transaction};
use std::cell::RefCell;
use std::collections::HashMap;

/// What the callbacks of one run share.
struct Ctx<'t> {
    tx: &'t Transaction,
    stores: RefCell<HashMap<String, JsonStore<'t>>>,
    /// The first failure of the database (not the script's fault): it ends the run.
    fatal: RefCell<Option<sop::Error>>,
    job: Option<&'t str>,
}

fn lua_err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

impl<'t> Ctx<'t> {
    /// An engine result for a script: the script's fault is a Lua error it may
    /// catch; any other failure is also kept, to end the run.
    fn eng<T>(&self, r: sop::Result<T>) -> mlua::Result<T> {
        r.map_err(|e| {
            use sop::ErrorKind as K;
            let msg = e.to_string();
            if matches!(e.kind(), K::InvalidInput | K::NotFound | K::AlreadyExists) {
                lua_err(msg)
            } else {
                let mut f = self.fatal.borrow_mut();
                if f.is_none() {
                    *f = Some(e);
                }
                lua_err(format!("database error: {msg}"))
            }
        })
    }

    fn swarm<T>(&self, r: Result<T>) -> mlua::Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(SwarmError::Db(e)) => self.eng(Err(e)),
            Err(e) => Err(lua_err(e.to_string())),
        }
    }

    fn check_name(name: &str) -> mlua::Result<()> {
        if names::is_system(name) {
            return Err(lua_err(format!(
                "store {name:?} is one of the swarm's own stores: scripts cannot use it"
            )));
        }
        Ok(())
    }

    /// Run `f` on the JSON store `name`, opened once per run.
    fn with<R>(
        &self,
        name: &str,
        f: impl FnOnce(&JsonStore<'t>) -> sop::Result<R>,
    ) -> mlua::Result<R> {
        Self::check_name(name)?;
        if !self.stores.borrow().contains_key(name) {
            let s = self.eng(self.tx.open_json_store(name))?;
            self.stores.borrow_mut().insert(name.to_string(), s);
        }
        let stores = self.stores.borrow();
        self.eng(f(&stores[name]))
    }

    fn create(&self, name: &str, opts: &Option<Table>) -> mlua::Result<()> {
        Self::check_name(name)?;
        let mut so = StoreOptions {
            unique: true,
            ..StoreOptions::default()
        };
        let mut spec = None;
        if let Some(t) = opts {
            if let Some(u) = t.get::<Option<bool>>("unique")? {
                so.unique = u;
            }
            if let Some(s) = t.get::<Option<String>>("key_spec")? {
                spec = Some(parse_spec(&s).map_err(lua_err)?);
            }
        }
        let s = self.eng(self.tx.create_json_store(name, so, spec))?;
        self.stores.borrow_mut().insert(name.to_string(), s);
        Ok(())
    }

    fn exists(&self, name: &str) -> mlua::Result<bool> {
        Self::check_name(name)?;
        if self.stores.borrow().contains_key(name) {
            return Ok(true);
        }
        match self.tx.open_json_store(name) {
            Ok(s) => {
                self.stores.borrow_mut().insert(name.to_string(), s);
                Ok(true)
            }
            Err(sop::Error::StoreNotFound(_)) => Ok(false),
            Err(e) => self.eng(Err(e)),
        }
    }
}

/// A key spec: JSON (`[{"field":…,"order":…}]`) or the short form `a,b:desc`.
pub fn parse_spec(text: &str) -> std::result::Result<IndexSpec, String> {
    let t = text.trim();
    if t.starts_with(['[', '{', '"']) {
        return IndexSpec::parse(t).map_err(|e| e.to_string());
    }
    IndexSpec::parse_short(text).map_err(|e| e.0)
}

fn submit_options(t: Option<Table>, parent: Option<&str>) -> mlua::Result<SubmitOptions> {
    let mut o = SubmitOptions {
        parent: parent.map(str::to_string),
        ..SubmitOptions::default()
    };
    if let Some(t) = t {
        o.key = t.get("key")?;
        if let Some(p) = t.get::<Option<i64>>("priority")? {
            o.priority = p;
        }
        o.not_before_ms = t.get("not_before_ms")?;
        if let Some(m) = t.get::<Option<u32>>("max_attempts")? {
            o.max_attempts = m;
        }
        if let Some(q) = t.get::<Option<String>>("queue")? {
            o.queue = q;
        }
        o.version = t.get("version")?;
        if let Some(after) = t.get::<Option<Vec<String>>>("after")? {
            o.after = after;
        }
    }
    Ok(o)
}

/// What one step of a run ended with.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The script returned this value.
    Done(Value),
    /// The script called `sop.checkpoint(state)`: commit the step's transaction
    /// (with `state`, for a job), then go on with [`Run::step`] in a new one.
    Checkpoint(Value),
}

/// The functions of `sop` that act on the step's transaction; they are
/// replaced at every step (through the wrappers of [`PRELUDE`]), so a script
/// may keep them in locals.
const STEP_FUNCTIONS: [&str; 9] = [
    "get",
    "put",
    "remove",
    "count",
    "range",
    "create_store",
    "ensure_store",
    "store_exists",
    "submit",
];

/// Installs the lasting wrappers in `sop` and `sop.checkpoint`, which yields
/// the run's thread with a mark only the runner knows.
const PRELUDE: &str = r#"
local sop, names, mark = ...
local impl, main = {}, nil
local yield, running, error = coroutine.yield, coroutine.running, error
for _, n in ipairs(names) do
  sop[n] = function(...) return impl[n](...) end
end
sop.checkpoint = function(state)
  if running() ~= main then
    error("sop.checkpoint: call it from the script's own body, not from a coroutine it started", 2)
  end
  yield(mark, state)
end
return function(t) impl = t end, function(m) main = m end
"#;

/// One run of a script: a sandboxed Lua state whose body runs as a thread, a
/// step at a time. A run that never calls `sop.checkpoint` has one step.
pub struct Run {
    lua: mlua::Lua,
    trip: sandbox::Tripwire,
    limits: Limits,
    thread: mlua::Thread,
    set_impl: mlua::Function,
    mark: Table,
    job: Option<String>,
}

impl Run {
    /// A run of `script` under `limits` (per step), with the files of its
    /// manifest that `allow` admits, as part of job `job` if any; `resumed` is the state of the last checkpoint committed by an
    /// earlier run of the same job (`sop.resumed` in the script).
    pub fn start(
        script: &ScriptVersion,
        limits: &Limits,
        allow: &Grants,
        job: Option<&str>,
        resumed: Option<&Value>,
    ) -> Result<Run> {
        let reach = Reach(allow.admit(
            &script.name,
            &grants::manifest(&script.name, &script.source)?,
        )?);
        let (lua, trip) = sandbox::new_state(limits)?;
        let setup = |e: mlua::Error| SwarmError::Script(format!("cannot set up the run: {e}"));
        let api = lua.create_table().map_err(setup)?;
        let mark = lua.create_table().map_err(setup)?;
        let (set_impl, set_main) = (|| {
            api.raw_set("null", LuaValue::NULL)?;
            if let Some(id) = job {
                api.raw_set("job_id", id)?;
            }
            if let Some(state) = resumed {
                api.raw_set("resumed", to_lua(&lua, state)?)?;
            }
            api.raw_set(
                "now_ms",
                lua.create_function(|_, ()| Ok(crate::time::now_ms() as i64))?,
            )?;
            api.raw_set(
                "log",
                lua.create_function(|_, args: mlua::Variadic<LuaValue>| {
                    let parts: Vec<String> = args
                        .iter()
                        .map(|v| v.to_string().unwrap_or_else(|_| "?".into()))
                        .collect();
                    tracing::info!(target: "sop_swarm::script", "{}", parts.join("\t"));
                    Ok(())
                })?,
            )?;
            if !reach.0.is_empty() {
                file_functions(&lua, &api, reach)?;
            }
            lua.load(PRELUDE)
                .set_name("=sop")
                .into_function()?
                .call::<(mlua::Function, mlua::Function)>((
                    api.clone(),
                    STEP_FUNCTIONS.to_vec(),
                    mark.clone(),
                ))
        })()
        .map_err(setup)?;
        lua.globals().raw_set("sop", api).map_err(setup)?;
        let body = lua
            .load(&script.source)
            .set_name(format!("={}", script.name))
            .set_mode(mlua::ChunkMode::Text)
            .into_function()
            .map_err(|e| SwarmError::Script(e.to_string()))?;
        let thread = lua.create_thread(body).map_err(setup)?;
        set_main.call::<()>(&thread).map_err(setup)?;
        Ok(Run {
            lua,
            trip,
            limits: *limits,
            thread,
            set_impl,
            mark,
            job: job.map(str::to_string),
        })
    }

    /// Run the next step in `tx`: the first step gets `args` as the body's
    /// argument (`...`). Nothing is committed here: the caller commits `tx`
    /// (on an error, it drops it, and the run is over).
    pub fn step(&mut self, tx: &Transaction, args: Option<&Value>) -> Result<Step> {
        self.trip.restart(&self.limits);
        let ctx = Ctx {
            tx,
            stores: RefCell::new(HashMap::new()),
            fatal: RefCell::new(None),
            job: self.job.as_deref(),
        };
        let lua = &self.lua;
        let out = lua.scope(|scope| {
            let t = lua.create_table()?;
            step_functions(scope, &t, &ctx)?;
            self.set_impl.call::<()>(t)?;
            let input = match args {
                Some(v) => to_lua(lua, v)?,
                None => LuaValue::Nil,
            };
            let r: mlua::MultiValue = self.thread.resume(input)?;
            let mut r = r.into_iter();
            if self.thread.status() != mlua::ThreadStatus::Resumable {
                return Ok(Step::Done(from_lua(&r.next().unwrap_or(LuaValue::Nil))?));
            }
            match r.next() {
                Some(LuaValue::Table(m)) if m.to_pointer() == self.mark.to_pointer() => Ok(
                    Step::Checkpoint(from_lua(&r.next().unwrap_or(LuaValue::Nil))?),
                ),
                _ => Err(lua_err(
                    "coroutine.yield outside a coroutine: a script's body cannot yield",
                )),
            }
        });
        if let Some(e) = ctx.fatal.into_inner() {
            return Err(SwarmError::Db(e));
        }
        if let Some(what) = self.trip.hit() {
            return Err(sandbox::limit_error(what, &self.limits));
        }
        out.map_err(|e| sandbox::run_error(&e, &self.trip, &self.limits))
    }
}

/// `sop.read_file(path)`, `sop.list_dir(path)` and `sop.write_file(path,
/// data)`, for a run whose manifest was admitted (`reach`).
fn file_functions(lua: &mlua::Lua, api: &Table, reach: Reach) -> mlua::Result<()> {
    let reach = std::rc::Rc::new(reach);
    let err = |e: SwarmError| lua_err(e.to_string());
    let r = reach.clone();
    api.raw_set(
        "read_file",
        lua.create_function(move |lua, path: String| {
            lua.create_string(r.read_file(&path).map_err(err)?)
        })?,
    )?;
    let r = reach.clone();
    api.raw_set(
        "list_dir",
        lua.create_function(move |_, path: String| r.list_dir(&path).map_err(err))?,
    )?;
    api.raw_set(
        "write_file",
        lua.create_function(move |_, (path, data): (String, mlua::String)| {
            reach.write_file(&path, &data.as_bytes()).map_err(err)
        })?,
    )?;
    Ok(())
}

/// The functions of `sop` that act on `c`'s transaction, into `t`.
fn step_functions<'s>(
    scope: &'s mlua::Scope<'s, '_>,
    t: &Table,
    c: &'s Ctx<'_>,
) -> mlua::Result<()> {
    t.raw_set(
        "get",
        scope.create_function(move |lua, (store, key): (String, LuaValue)| {
            let key = from_lua(&key)?;
            match c.with(&store, |s| s.get(&key))? {
                Some(v) => to_lua(lua, &v),
                None => Ok(LuaValue::Nil),
            }
        })?,
    )?;
    t.raw_set(
        "put",
        scope.create_function(
            move |_, (store, key, value): (String, LuaValue, LuaValue)| {
                let (key, value) = (from_lua(&key)?, from_lua(&value)?);
                c.with(&store, |s| {
                    if s.info().options.unique {
                        s.upsert(&key, &value)
                    } else {
                        s.add(&key, &value)
                    }
                })
            },
        )?,
    )?;
    t.raw_set(
        "remove",
        scope.create_function(move |_, (store, key): (String, LuaValue)| {
            let key = from_lua(&key)?;
            c.with(&store, |s| s.remove(&key))
        })?,
    )?;
    t.raw_set(
        "count",
        scope.create_function(move |_, store: String| c.with(&store, |s| s.count()))?,
    )?;
    t.raw_set(
        "range",
        scope.create_function(move |lua, (store, opts): (String, Option<Table>)| {
            let (mut from, mut to, mut desc, mut limit) = (None, None, false, usize::MAX);
            if let Some(o) = &opts {
                let f: LuaValue = o.get("from")?;
                if !f.is_nil() {
                    from = Some(from_lua(&f)?);
                }
                let t: LuaValue = o.get("to")?;
                if !t.is_nil() {
                    to = Some(from_lua(&t)?);
                }
                desc = o.get::<Option<bool>>("desc")?.unwrap_or(false);
                if let Some(l) = o.get::<Option<usize>>("limit")? {
                    limit = l;
                }
            }
            let items = c.with(&store, |s| {
                s.range(from.as_ref(), to.as_ref(), desc)?
                    .take(limit)
                    .collect::<sop::Result<Vec<_>>>()
            })?;
            let out = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, (k, v)) in items.iter().enumerate() {
                let item = lua.create_table_with_capacity(0, 2)?;
                item.raw_set("key", to_lua(lua, k)?)?;
                item.raw_set("value", to_lua(lua, v)?)?;
                out.raw_set(i + 1, item)?;
            }
            Ok(out)
        })?,
    )?;
    t.raw_set(
        "create_store",
        scope.create_function(move |_, (name, opts): (String, Option<Table>)| {
            c.create(&name, &opts)
        })?,
    )?;
    t.raw_set(
        "ensure_store",
        scope.create_function(move |_, (name, opts): (String, Option<Table>)| {
            if c.exists(&name)? {
                return Ok(false);
            }
            c.create(&name, &opts)?;
            Ok(true)
        })?,
    )?;
    t.raw_set(
        "store_exists",
        scope.create_function(move |_, name: String| c.exists(&name))?,
    )?;
    t.raw_set(
        "submit",
        scope.create_function(
            move |_, (script, args, opts): (String, LuaValue, Option<Table>)| {
                let args = from_lua(&args)?;
                let o = submit_options(opts, c.job)?;
                let (id, _) = c.swarm(jobs::submit::submit(c.tx, &script, args, &o))?;
                Ok(id)
            },
        )?,
    )?;
    Ok(())
}

/// Run `script` with `args` in `tx` under `limits`, as part of job `job` if
/// any, as ONE step. Returns what the script returned, as JSON. Nothing is
/// committed here: the caller commits `tx` (and on an error, drops it). A
/// script that calls `sop.checkpoint` needs a runner that commits in steps
/// ([`Run`], as `Swarm::run_script` and `Swarm::execute` do).
pub fn run(
    tx: &Transaction,
    script: &ScriptVersion,
    args: &Value,
    limits: &Limits,
    job: Option<&str>,
) -> Result<Value> {
    match Run::start(script, limits, &Grants::default(), job, None)?.step(tx, Some(args))? {
        Step::Done(v) => Ok(v),
        Step::Checkpoint(_) => Err(SwarmError::Invalid(
            "sop.checkpoint: this run is one transaction and cannot commit in steps".into(),
        )),
    }
}
