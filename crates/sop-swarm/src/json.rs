//! JSON documents to Lua values and back.
//!
//! Objects become tables with string keys, arrays tables with keys 1..n,
//! integers Lua integers, other numbers floats, and JSON `null` the light
//! userdata `sop.null` (a Lua `nil` cannot stand in an array or a table). Back
//! from Lua: a table whose keys are exactly 1..n (n > 0) is an array, any other
//! table an object (its keys must be strings or numbers), so an empty table is
//! `{}`; `nil` and `sop.null` are `null`; functions, threads and userdata are
//! refused.

use mlua::{Lua, Value as LuaValue};
use serde_json::{Map, Number, Value};

/// How deep a Lua table may nest when it is turned into JSON (cycles end here).
const MAX_DEPTH: usize = 128;

/// A JSON document as a Lua value.
pub fn to_lua(lua: &Lua, v: &Value) -> mlua::Result<LuaValue> {
    Ok(match v {
        Value::Null => LuaValue::NULL,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                LuaValue::Integer(i)
            } else {
                LuaValue::Number(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => LuaValue::String(lua.create_string(s)?),
        Value::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0)?;
            for (i, x) in a.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, x)?)?;
            }
            LuaValue::Table(t)
        }
        Value::Object(o) => {
            let t = lua.create_table_with_capacity(0, o.len())?;
            for (k, x) in o {
                t.raw_set(k.as_str(), to_lua(lua, x)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

/// A Lua value as a JSON document.
pub fn from_lua(v: &LuaValue) -> mlua::Result<Value> {
    from_lua_at(v, 0)
}

fn bad(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

fn number(f: f64) -> mlua::Result<Value> {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| bad(format!("{f} is not a JSON number")))
}

fn from_lua_at(v: &LuaValue, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(bad(format!(
            "a table nests deeper than {MAX_DEPTH} levels (a cycle?): not JSON"
        )));
    }
    Ok(match v {
        LuaValue::Nil => Value::Null,
        LuaValue::LightUserData(p) if p.0.is_null() => Value::Null,
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(i) => Value::Number(Number::from(*i)),
        LuaValue::Number(f) => number(*f)?,
        LuaValue::String(s) => Value::String(s.to_str()?.to_string()),
        LuaValue::Table(t) => {
            let n = t.raw_len();
            let mut count = 0usize;
            let mut all_index = true;
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, _) = pair?;
                count += 1;
                match k {
                    LuaValue::Integer(i) if i >= 1 && (i as usize) <= n => {}
                    _ => all_index = false,
                }
            }
            if n > 0 && all_index && count == n {
                let mut a = Vec::with_capacity(n);
                for i in 1..=n {
                    a.push(from_lua_at(&t.raw_get::<LuaValue>(i)?, depth + 1)?);
                }
                Value::Array(a)
            } else {
                let mut o = Map::new();
                for pair in t.pairs::<LuaValue, LuaValue>() {
                    let (k, x) = pair?;
                    let key = match k {
                        LuaValue::String(s) => s.to_str()?.to_string(),
                        LuaValue::Integer(i) => i.to_string(),
                        LuaValue::Number(f) => f.to_string(),
                        other => {
                            return Err(bad(format!(
                                "a table key of type {} cannot be a JSON member name",
                                other.type_name()
                            )))
                        }
                    };
                    o.insert(key, from_lua_at(&x, depth + 1)?);
                }
                Value::Object(o)
            }
        }
        other => {
            return Err(bad(format!(
                "a Lua {} cannot be turned into JSON",
                other.type_name()
            )))
        }
    })
}
