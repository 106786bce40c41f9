//! A future whose output every clone receives: the token cache's single flight. Concurrent
//! callers for one cache key await clones of one token request.
//!
//! Whichever clone is polled drives the request, with a waker that wakes every clone waiting, so
//! a caller that stops waiting never strands the others. Single-threaded (the engine is).
//! (`futures_util::future::Shared` does the same for any executor; this is its small form: in
//! wasm it cost a few KB of module for what is used here.)

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// A clonable handle on one running future; each clone resolves to a clone of its output.
pub struct Shared<T>(Rc<RefCell<State<T>>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Rc::clone(&self.0))
    }
}

enum State<T> {
    /// `future` is `None` while a clone is polling it (a poll reached from inside that poll waits).
    Running {
        future: Option<Pin<Box<dyn Future<Output = T>>>>,
        waiting: Arc<Waiting>,
    },
    Done(T),
}

/// The wakers of the clones waiting; the running future is polled with a waker that wakes them all.
#[derive(Default)]
struct Waiting(Mutex<Vec<Waker>>);

impl Waiting {
    fn add(&self, waker: &Waker) {
        let mut wakers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Wake for Waiting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in wakers {
            waker.wake();
        }
    }
}

/// `.shared()` on a future: start sharing it.
pub trait ShareExt: Future + Sized + 'static {
    /// A [`Shared`] running this future.
    fn shared(self) -> Shared<Self::Output> {
        let state = State::Running { future: Some(Box::pin(self)), waiting: Arc::default() };
        Shared(Rc::new(RefCell::new(state)))
    }
}

impl<F: Future + 'static> ShareExt for F {}

impl<T: Clone> Future for Shared<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let (mut future, waiting) = match &mut *self.0.borrow_mut() {
            State::Done(output) => return Poll::Ready(output.clone()),
            State::Running { future, waiting } => {
                waiting.add(cx.waker());
                match future.take() {
                    Some(future) => (future, Arc::clone(waiting)),
                    None => return Poll::Pending,
                }
            }
        };
        let waker = Waker::from(waiting);
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        let mut state = self.0.borrow_mut();
        match poll {
            Poll::Ready(output) => {
                *state = State::Done(output.clone());
                drop(state);
                waker.wake();
                Poll::Ready(output)
            }
            Poll::Pending => {
                if let State::Running { future: slot, .. } = &mut *state {
                    *slot = Some(future);
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A future that is pending until `ready` is set, counting its polls.
    struct Gate {
        ready: Rc<Cell<bool>>,
        polls: Rc<Cell<u32>>,
        waker: Rc<RefCell<Option<Waker>>>,
    }

    impl Future for Gate {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            self.polls.set(self.polls.get() + 1);
            if self.ready.get() {
                return Poll::Ready(7);
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn every_clone_gets_the_output_and_a_dropped_waiter_strands_no_one() {
        let (ready, polls, waker) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(0)), Rc::default());
        let shared = Gate { ready: ready.clone(), polls: polls.clone(), waker: Rc::clone(&waker) }.shared();
        let (mut a, mut b) = (shared.clone(), shared);
        let noop = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&noop);
        assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut b).poll(&mut cx).is_pending());
        drop(a);
        ready.set(true);
        waker.borrow_mut().take().expect("the gate registered a waker").wake();
        assert_eq!(Pin::new(&mut b).poll(&mut cx), Poll::Ready(7));
        assert_eq!(Pin::new(&mut b.clone()).poll(&mut cx), Poll::Ready(7));
        assert_eq!(polls.get(), 3, "the output is kept, not recomputed");
    }
}
