//! The JSON data model: [`Value`], [`Map`] (members kept sorted by name) and [`Number`].
//!
//! The shape and method names follow serde_json's `Value`, which this replaces in the crate: the
//! wasm module then carries a vector instead of a B-tree per map, and no serde machinery or
//! float formatting (5 KB gzip less). Objects here hold a handful of members (options, JWKs,
//! claims, token responses), so a sorted vector is both small and fast.

use std::ops::{Index, IndexMut};

/// A JSON value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map<String, Value>),
}

/// A JSON number: an integer when integral and in range of `u64` or `i64`, else a finite float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number(N);

#[derive(Clone, Copy, Debug, PartialEq)]
enum N {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

// Floats are always finite (`from_f64` refuses the rest), so equality is reflexive.
impl Eq for Number {}

impl Number {
    /// A float, or `None` when it is not finite (JSON has no NaN or infinity).
    pub fn from_f64(n: f64) -> Option<Number> {
        n.is_finite().then_some(Number(N::Float(n)))
    }

    /// The value as `u64`, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(n) => Some(n),
            _ => None,
        }
    }

    /// The value as `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(n) => i64::try_from(n).ok(),
            N::NegInt(n) => Some(n),
            N::Float(_) => None,
        }
    }

    /// The value as `f64` (integers may round).
    pub fn as_f64(&self) -> Option<f64> {
        Some(match self.0 {
            N::PosInt(n) => n as f64,
            N::NegInt(n) => n as f64,
            N::Float(n) => n,
        })
    }

    /// The integer, as a sign and magnitude, when it is one.
    pub(super) fn as_integer(&self) -> Option<(bool, u64)> {
        match self.0 {
            N::PosInt(n) => Some((false, n)),
            N::NegInt(n) => Some((n < 0, n.unsigned_abs())),
            N::Float(_) => None,
        }
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Self {
        Number(N::PosInt(n))
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        match u64::try_from(n) {
            Ok(n) => Number(N::PosInt(n)),
            Err(_) => Number(N::NegInt(n)),
        }
    }
}

/// A JSON object's members, sorted by name (so serializing gives RFC 7638's member order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map<K, V> {
    members: Vec<(K, V)>,
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map { members: Vec::new() }
    }
}

impl Map<String, Value> {
    /// An empty object.
    pub fn new() -> Self {
        Map::default()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    /// The member `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.find(name).ok().map(|i| &self.members[i].1)
    }

    /// Whether the object has a member `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Set the member `name`; returns the value it replaces.
    pub fn insert(&mut self, name: String, value: Value) -> Option<Value> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.members[i].1, value)),
            Err(i) => {
                self.members.insert(i, (name, value));
                None
            }
        }
    }

    /// The member `name`, mutably; inserted as `null` when missing.
    pub fn entry_mut(&mut self, name: &str) -> &mut Value {
        let i = match self.find(name) {
            Ok(i) => i,
            Err(i) => {
                self.members.insert(i, (name.to_owned(), Value::Null));
                i
            }
        };
        &mut self.members[i].1
    }

    /// Remove the member `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.find(name).ok().map(|i| self.members.remove(i).1)
    }

    /// The members' names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.members.iter().map(|(k, _)| k)
    }

    /// The members, in order of name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.members.iter().map(|(k, v)| (k, v))
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl FromIterator<(String, Value)> for Map<String, Value> {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(members: I) -> Self {
        let mut map = Map::new();
        for (name, value) in members {
            map.insert(name, value);
        }
        map
    }
}

impl Value {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as `u64`, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as `f64`, when this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The members, when this is an object.
    pub fn as_object(&self) -> Option<&Map<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The members, mutably, when this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The items, when this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// Whether this is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    /// The member `name` of an object (`None` for a missing member or another kind of value).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_object()?.get(name)
    }
}

static NULL: Value = Value::Null;

/// `value["name"]`: the member, or `null` when missing (as serde_json).
impl Index<&str> for Value {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or(&NULL)
    }
}

/// `value[i]`: the item, or `null` when missing (as serde_json).
impl Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

/// `value["name"] = v`: sets the member of an object (a `null` becomes an empty object first);
/// panics on other values, as serde_json does.
impl IndexMut<&str> for Value {
    fn index_mut(&mut self, name: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        match self {
            Value::Object(map) => map.entry_mut(name),
            _ => panic!("cannot set \"{name}\" on a JSON value that is not an object"),
        }
    }
}

/// `map["name"]`: the member; panics when missing, as serde_json does.
impl Index<&str> for Map<String, Value> {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        self.get(name).expect("no such member")
    }
}

/// `map["name"] = v`: sets the member.
impl IndexMut<&str> for Map<String, Value> {
    fn index_mut(&mut self, name: &str) -> &mut Value {
        self.entry_mut(name)
    }
}

/// The compact JSON text ([`crate::json::text`]).
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::text(self))
    }
}

impl PartialEq<u64> for Value {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl PartialEq<i32> for Value {
    fn eq(&self, other: &i32) -> bool {
        self.as_i64() == Some(i64::from(*other))
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Number(n.into())
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n.into())
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(u64::from(n).into())
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Number(i64::from(n).into())
    }
}

impl From<Map<String, Value>> for Value {
    fn from(map: Map<String, Value>) -> Self {
        Value::Object(map)
    }
}

impl From<&[String]> for Value {
    fn from(items: &[String]) -> Self {
        Value::Array(items.iter().map(|s| s.as_str().into()).collect())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}
