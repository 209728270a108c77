//! Services: sub-machines the [`Hub`](crate::hub::Hub) routes to. Each owns its state and
//! rules, takes its inputs as calls with `now`/`wall` passed in, returns its outputs as values
//! (answers, refusals, store commands) and is tested alone beside its code. The hub owns the
//! connections, broadcast, `seq`/`stateVersion` and shutdown; its method handlers
//! (`crate::hub::<service>`) hand each call to the service and deliver what comes back.

pub(crate) mod agent;
pub(crate) mod chat;
pub(crate) mod presence;
pub(crate) mod sessions;
pub mod node_work;
pub mod node_events;
pub mod nodes;
