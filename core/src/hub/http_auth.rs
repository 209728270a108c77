//! The shared-secret check of an HTTP request (http.md §1.4). It runs in the hub because the
//! failed-attempt limiter is the one `connect` uses: a wrong bearer and a wrong `connect`
//! secret from one address count toward the same lockout. The driver asks with
//! [`HubInput::HttpAuth`](super::HubInput::HttpAuth) and gets [`HubOutput::HttpAuth`] for the
//! same caller.

use core::net::IpAddr;
use std::time::Duration;

use super::{Hub, HubOutput};
use crate::auth::{authenticate_bearer, AuthFailure};
use crate::caller::Caller;
use crate::session::millis;
use crate::time::Instant;

/// Why an HTTP request was not authenticated, and how long to hold the answer back (the
/// loopback delay that replaces a lockout, as on the socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpAuthRefusal {
    pub failure: AuthFailure,
    pub delay: Duration,
}

impl Hub {
    /// Checks `bearer` (the `Authorization: Bearer` value, scheme stripped) from `ip` against
    /// `gateway.auth`, on the same limiter as `connect`, and answers `caller` with
    /// [`HubOutput::HttpAuth`]: a locked-out address is refused with
    /// [`AuthFailure::RateLimited`] even with the right secret; a wrong secret counts; a
    /// success clears the address's history.
    pub(super) fn handle_http_auth(&mut self, now: Instant, caller: Caller, ip: IpAddr, bearer: Option<&str>) {
        let result = self.check_bearer(now, ip, bearer);
        self.out.push_back(HubOutput::HttpAuth { caller, result });
    }

    fn check_bearer(&mut self, now: Instant, ip: IpAddr, bearer: Option<&str>) -> Result<(), HttpAuthRefusal> {
        if let Err(remaining) = self.limiter.check(now, ip) {
            let failure = AuthFailure::RateLimited { retry_after_ms: millis(remaining) };
            return Err(HttpAuthRefusal { failure, delay: Duration::ZERO });
        }
        match authenticate_bearer(&self.config.auth, bearer) {
            Ok(()) => {
                self.limiter.record_success(ip);
                Ok(())
            }
            Err(failure) => {
                // A missing credential is not a guess (http.md §1.4: only wrong ones count).
                let counts = matches!(failure, AuthFailure::TokenMismatch | AuthFailure::PasswordMismatch);
                let delay = if counts { self.limiter.record_failure(now, ip) } else { Duration::ZERO };
                Err(HttpAuthRefusal { failure, delay })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::limiter::RateLimitPolicy;
    use crate::hub::HubInput;
    use crate::testing::{test_config, TOKEN};
    use crate::UnixMillis;

    const REMOTE: IpAddr = IpAddr::V4(core::net::Ipv4Addr::new(192, 0, 2, 9));

    fn hub(max_attempts: usize) -> Hub {
        let mut config = test_config();
        config.auth_rate_limit = RateLimitPolicy { max_attempts, ..RateLimitPolicy::default() };
        Hub::new(config, Instant::ZERO, UnixMillis(0))
    }

    /// Asks as io does (an input for one HTTP caller) and takes the answer for that caller.
    fn authenticate(hub: &mut Hub, now: Instant, ip: IpAddr, bearer: Option<&str>) -> Result<(), HttpAuthRefusal> {
        let caller = Caller::Http { id: 7 };
        let input = HubInput::HttpAuth { caller: caller.clone(), ip, bearer: bearer.map(str::to_owned) };
        hub.handle_input(now, UnixMillis(0), input);
        let mut answer = None;
        loop {
            match hub.poll_output() {
                HubOutput::Wait(_) => break,
                HubOutput::HttpAuth { caller: to, result } => {
                    assert_eq!(to, caller);
                    assert!(answer.replace(result).is_none(), "answered twice");
                }
                other @ (HubOutput::ToSession(..)
                | HubOutput::ToCaller(..)
                | HubOutput::Run(_)
                | HubOutput::Store(_)
                | HubOutput::Host { .. }
                | HubOutput::Devices(_)) => panic!("unexpected output {other:?}"),
            }
        }
        answer.expect("an answer for the caller")
    }

    #[test]
    fn wrong_bearers_lock_the_address_out_and_success_resets() {
        let t = Instant::ZERO;
        let mut hub = hub(2);
        assert_eq!(authenticate(&mut hub, t, REMOTE, Some(TOKEN)), Ok(()));
        let missing = authenticate(&mut hub, t, REMOTE, None).unwrap_err();
        assert_eq!(missing.failure, AuthFailure::TokenMissing);
        let wrong = authenticate(&mut hub, t, REMOTE, Some("nope")).unwrap_err();
        assert_eq!(wrong, HttpAuthRefusal { failure: AuthFailure::TokenMismatch, delay: Duration::ZERO });
        // One wrong guess and a success: the history is cleared.
        assert_eq!(authenticate(&mut hub, t, REMOTE, Some(TOKEN)), Ok(()));
        for _ in 0..2 {
            let _ = authenticate(&mut hub, t, REMOTE, Some("nope"));
        }
        let locked = authenticate(&mut hub, t + Duration::from_secs(1), REMOTE, Some(TOKEN)).unwrap_err();
        let remaining = crate::auth::limiter::LOCKOUT - Duration::from_secs(1);
        assert_eq!(locked.failure, AuthFailure::RateLimited { retry_after_ms: millis(remaining) });
    }

    #[test]
    fn loopback_is_delayed_not_locked_out() {
        let mut hub = hub(1);
        let local = IpAddr::V4(core::net::Ipv4Addr::LOCALHOST);
        let first = authenticate(&mut hub, Instant::ZERO, local, Some("nope")).unwrap_err();
        assert_eq!(first.delay, crate::auth::limiter::LOOPBACK_BASE_DELAY);
        assert_eq!(authenticate(&mut hub, Instant::ZERO, local, Some(TOKEN)), Ok(()));
    }

    #[test]
    fn a_reloaded_rate_limit_applies_at_once_and_keeps_the_history() {
        let t = Instant::ZERO;
        let mut hub = hub(10);
        let _ = authenticate(&mut hub, t, REMOTE, Some("nope"));
        assert_eq!(authenticate(&mut hub, t, REMOTE, Some("nope")).unwrap_err().failure, AuthFailure::TokenMismatch);
        // `gateway.auth.rateLimit.maxAttempts: 3` by reload: the third failure locks out.
        let policy = RateLimitPolicy { max_attempts: 3, ..RateLimitPolicy::default() };
        hub.handle_input(t, UnixMillis(0), HubInput::AuthRateLimit(policy));
        let _ = authenticate(&mut hub, t, REMOTE, Some("nope"));
        let locked = authenticate(&mut hub, t, REMOTE, Some(TOKEN)).unwrap_err();
        assert!(matches!(locked.failure, AuthFailure::RateLimited { .. }), "{locked:?}");
        // Loopback exemption off by reload: loopback is locked out too, not delayed.
        let local = IpAddr::V4(core::net::Ipv4Addr::LOCALHOST);
        let strict = RateLimitPolicy { max_attempts: 1, exempt_loopback: false, ..RateLimitPolicy::default() };
        hub.handle_input(t, UnixMillis(0), HubInput::AuthRateLimit(strict));
        assert_eq!(authenticate(&mut hub, t, local, Some("nope")).unwrap_err().delay, Duration::ZERO);
        let locked = authenticate(&mut hub, t, local, Some(TOKEN)).unwrap_err();
        assert!(matches!(locked.failure, AuthFailure::RateLimited { .. }), "{locked:?}");
    }
}
