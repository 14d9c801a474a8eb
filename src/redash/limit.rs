//! How many requests may be in flight: at most the configured concurrency, halved when the
//! server says it is overloaded (429, 502, 503, 504, a refused or timed-out connection, or an
//! answer ten times slower than the fastest seen) and raised again by one per round of
//! successful requests, so a big sync never pushes a production Redash over.
//!
//! 500 is not an overload signal: Redash answers many bad requests with 500.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// How much slower than the fastest answer seen counts as the server slowing down.
const SLOWDOWN_FACTOR: u32 = 10;
/// Answers faster than this are never taken as a slowdown (loopback noise).
const SLOWDOWN_MIN: Duration = Duration::from_millis(250);

pub struct Limiter {
    max: usize,
    permits: Semaphore,
    state: Mutex<State>,
}

struct State {
    /// The current limit, fractional so that increases take a round of successes.
    limit: f64,
    /// Permits to take out of circulation as they come back (after a decrease).
    debt: usize,
    /// Signals from requests sent before the last decrease are about the old limit.
    decreased_at: Instant,
    fastest: Option<Duration>,
    /// No new request before this (a Retry-After).
    paused_until: Option<Instant>,
    decreases: u64,
}

/// What a finished attempt tells about the server's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Fine,
    Overloaded,
    /// Neither: a client error, or a 500.
    Neutral,
}

impl Signal {
    pub fn of_status(status: u16) -> Signal {
        match status {
            429 | 502 | 503 | 504 => Signal::Overloaded,
            200..=399 => Signal::Fine,
            _ => Signal::Neutral,
        }
    }
}

/// A slot for one request; give it back with [`Limiter::release`].
pub struct Slot<'a> {
    permit: Option<SemaphorePermit<'a>>,
    pub sent: Instant,
}

impl Limiter {
    pub fn new(max: usize) -> Limiter {
        let max = max.max(1);
        Limiter {
            max,
            permits: Semaphore::new(max),
            state: Mutex::new(State {
                limit: max as f64,
                debt: 0,
                decreased_at: Instant::now(),
                fastest: None,
                paused_until: None,
                decreases: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn acquire(&self) -> Slot<'_> {
        loop {
            let pause = self.state().paused_until.filter(|t| *t > Instant::now());
            match pause {
                Some(until) => tokio::time::sleep_until(until).await,
                None => break,
            }
        }
        let permit = self.permits.acquire().await.ok();
        Slot { permit, sent: Instant::now() }
    }

    /// Gives a slot back with what its answer said about the server.
    pub fn release(&self, mut slot: Slot<'_>, signal: Signal, retry_after: Option<Duration>) {
        let elapsed = slot.sent.elapsed();
        let mut s = self.state();
        if let Some(d) = retry_after {
            let until = Instant::now() + d;
            s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        }
        let slow = signal == Signal::Fine
            && elapsed > SLOWDOWN_MIN
            && s.fastest.is_some_and(|f| elapsed > f * SLOWDOWN_FACTOR);
        if signal == Signal::Fine {
            s.fastest = Some(s.fastest.map_or(elapsed, |f| f.min(elapsed)));
        }
        if (signal == Signal::Overloaded || slow) && slot.sent >= s.decreased_at {
            let target = (s.limit / 2.0).max(1.0);
            let drop = s.limit.floor() as usize - target.floor() as usize;
            s.limit = target;
            s.debt += drop;
            s.decreased_at = Instant::now();
            s.decreases += 1;
            tracing::info!(limit = target as usize, "the server is overloaded: fewer requests in flight");
        } else if signal == Signal::Fine && s.limit < self.max as f64 {
            let before = s.limit.floor() as usize;
            s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64);
            if s.limit.floor() as usize > before {
                if s.debt > 0 {
                    s.debt -= 1;
                } else {
                    self.permits.add_permits(1);
                }
            }
        }
        if let Some(permit) = slot.permit.take()
            && s.debt > 0
        {
            s.debt -= 1;
            permit.forget();
        }
    }

    /// The most requests ever in flight at once (the configured concurrency).
    pub fn max(&self) -> usize {
        self.max
    }

    /// The current limit (for logs and tests).
    pub fn limit(&self) -> usize {
        self.state().limit.floor() as usize
    }

    /// How many times the limit was lowered.
    pub fn decreases(&self) -> u64 {
        self.state().decreases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overload_halves_the_limit_once_per_round_and_successes_raise_it_again() {
        let l = Limiter::new(8);
        let slots: Vec<Slot<'_>> = futures_util::future::join_all((0..8).map(|_| l.acquire())).await;
        // Eight answers of one overloaded round lower the limit once, not eight times.
        for slot in slots {
            l.release(slot, Signal::Overloaded, None);
        }
        assert_eq!((l.limit(), l.decreases()), (4, 1));
        assert_eq!(l.permits.available_permits(), 4, "the permits follow the limit");
        for _ in 0..40 {
            let slot = l.acquire().await;
            l.release(slot, Signal::Fine, None);
        }
        assert_eq!(l.limit(), 8, "back to the maximum after enough successes");
        assert_eq!(l.permits.available_permits(), 8);
    }

    #[tokio::test]
    async fn a_500_is_not_overload() {
        let l = Limiter::new(4);
        let slot = l.acquire().await;
        l.release(slot, Signal::of_status(500), None);
        assert_eq!(l.limit(), 4);
        assert_eq!(Signal::of_status(503), Signal::Overloaded);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_every_new_request() {
        let l = Limiter::new(4);
        let slot = l.acquire().await;
        l.release(slot, Signal::Overloaded, Some(Duration::from_secs(2)));
        let before = tokio::time::Instant::now();
        let _slot = l.acquire().await;
        assert!(before.elapsed() >= Duration::from_secs(2));
    }
}
