//! The macro behind [`super::table`]: from one list of entries it derives the [`Method`] enum
//! (name ↔ variant), the typed [`MethodCall`] and its parse (lazily compiled validator per
//! method), the served list, each method's scope, the dispatch to its handler and the method
//! schemas the `schemas/` emitter writes. Read `table.rs` for how to add a method.
//!
//! [`Method`]: super::Method
//! [`MethodCall`]: super::MethodCall

/// See the module docs and `table.rs`.
macro_rules! method_table {
    (@uses_store) => { false };
    (@uses_store writes) => { true };
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal {
            params: $params:ty => $stem:literal,
            $(result: $result:ty => $rstem:literal,)?
            scope: $scope:ident,
            handler: $($handler:ident)::+,
            $(check: $check:path,)?
            $(store: $store:ident,)?
        }
    ),* $(,)?) => {
        /// A method this gateway serves (one variant per table entry), `connect`, or any other
        /// name a client sent.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Method {
            Connect,
            $($(#[doc = $doc])* $variant,)*
            /// A name this gateway does not serve (it may still be a reference method).
            Other(String),
        }

        /// A served method with its typed params: what the hub executes.
        #[derive(Clone, Debug, PartialEq)]
        pub enum MethodCall {
            $($(#[doc = $doc])* $variant($params),)*
        }

        /// Methods served here, in the order `hello-ok.features.methods` advertises them
        /// (the table's order).
        pub const SERVED_METHODS: &[&str] = &[$($name),*];

        impl Method {
            pub fn parse(name: &str) -> Self {
                match name {
                    "connect" => Self::Connect,
                    $($name => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            pub fn name(&self) -> &str {
                match self {
                    Self::Connect => "connect",
                    $(Self::$variant => $name,)*
                    Self::Other(name) => name,
                }
            }

            /// The scope the table gives a served method (`None`: not served here).
            pub(crate) fn served_scope(&self) -> Option<crate::auth::scopes::Scope> {
                match self {
                    $(Self::$variant => Some(crate::auth::scopes::Scope::$scope),)*
                    Self::Connect | Self::Other(_) => None,
                }
            }

            /// The method writes or reads the session store (table `store: writes`): refused
            /// while the store queue is backed up.
            pub fn uses_store(&self) -> bool {
                match self {
                    $(Self::$variant => method_table!(@uses_store $($store)?),)*
                    Self::Connect | Self::Other(_) => false,
                }
            }

            /// The params validator of a served method, compiled on first use (once per
            /// process) from the schema its params type emits (the same text as the checked-in
            /// `schemas/` file: a test keeps them equal).
            pub(crate) fn validator(&self) -> Option<&'static crate::schema::Validator> {
                match self {
                    $(Self::$variant => {
                        static CELL: std::sync::OnceLock<crate::schema::Validator> = std::sync::OnceLock::new();
                        Some(CELL.get_or_init(|| crate::schema::Validator::from_schema(&crate::schema::gen::<$params>())))
                    })*
                    Self::Connect | Self::Other(_) => None,
                }
            }
        }

        impl MethodCall {
            /// Validates `params` (missing means `{}`) against the method's schema and types them.
            /// `Ok(None)` for a method this gateway does not serve.
            pub fn parse(method: &Method, params: Option<serde_json::Value>) -> Result<Option<Self>, String> {
                let params = params.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
                let Some(validator) = method.validator() else { return Ok(None) };
                validator.check(&params)?;
                Ok(Some(match method {
                    $(Method::$variant => {
                        let typed: $params = serde_json::from_value(params).map_err(|e| e.to_string())?;
                        $($check(&typed)?;)?
                        Self::$variant(typed)
                    })*
                    Method::Connect | Method::Other(_) => return Ok(None),
                }))
            }

            pub fn method(&self) -> Method {
                match self {
                    $(Self::$variant(_) => Method::$variant,)*
                }
            }

            /// Runs the method's handler (the table's `handler`).
            pub(crate) fn dispatch(self, hub: &mut crate::hub::Hub, rq: crate::hub::Req) {
                match self {
                    $(Self::$variant(params) => crate::hub::$($handler)::+(hub, rq, params),)*
                }
            }
        }

        /// The method schemas `schemas/` holds: `(file stem, generator)`, params then result,
        /// in table order (a stem two methods share is listed once).
        pub(crate) fn method_schemas() -> Vec<(&'static str, fn() -> serde_json::Value)> {
            let mut all: Vec<(&'static str, fn() -> serde_json::Value)> = vec![$(
                ($stem, crate::schema::gen::<$params> as fn() -> serde_json::Value),
                $(($rstem, crate::schema::gen::<$result>),)?
            )*];
            let mut seen = std::collections::BTreeSet::new();
            all.retain(|(stem, _)| seen.insert(*stem));
            all
        }
    };
}

pub(super) use method_table;
