//! `Coroutine`: what every awaitable method returns. `asyncio.run`, `create_task` and
//! `TaskGroup` take coroutines only, and the asyncio future that carries a call's result can only
//! be made inside a running loop. So a call returns this first; the first time the loop steps it,
//! it makes that future (`start`) and from then on hands each step to it. A call that is never
//! awaited never starts.

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Mutex;

/// Makes the asyncio future of a call (inside the running loop).
pub(crate) type Start = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

enum State {
    /// Not awaited yet.
    Ready(Start),
    /// The iterator of the call's future (`future.__await__()`).
    Running(Py<PyAny>),
    /// Finished, closed or thrown into before it started.
    Done,
}

/// A call of an awaitable method: `await` it, or hand it to `asyncio.run`/`create_task`.
#[pyclass(frozen, module = "trainpod._native")]
pub struct Coroutine {
    name: &'static str,
    state: Mutex<State>,
}

impl std::fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine")
            .field("name", &self.name)
            .finish()
    }
}

impl Coroutine {
    pub(crate) fn new(name: &'static str, start: Start) -> Self {
        Coroutine {
            name,
            state: Mutex::new(State::Ready(start)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held leaves no broken invariant: the state is one value.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The iterator of the call's future, making the future on the first step. The lock is not
    /// held while Python runs, so a step that re-enters this object cannot deadlock.
    fn running(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let start = {
            let mut state = self.state();
            if let State::Running(iter) = &*state {
                return Ok(Some(iter.clone_ref(py)));
            }
            match std::mem::replace(&mut *state, State::Done) {
                State::Ready(start) => start,
                _ => return Ok(None),
            }
        };
        let iter = start(py)?.bind(py).call_method0("__await__")?.unbind();
        *self.state() = State::Running(iter.clone_ref(py));
        Ok(Some(iter))
    }

    /// One step: `send` the value into the call's future, ending the call when it ends.
    fn step(&self, py: Python<'_>, method: &str, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let Some(iter) = self.running(py)? else {
            return Err(PyStopIteration::new_err(()));
        };
        let out = iter.bind(py).call_method1(method, args);
        if out.is_err() {
            *self.state() = State::Done;
        }
        out.map(Bound::unbind)
    }
}

#[pymethods]
impl Coroutine {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.step(py, "send", &PyTuple::new(py, [py.None()])?)
    }

    fn send(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.step(py, "send", &PyTuple::new(py, [value])?)
    }

    /// Raise an exception inside the call: into its future once started; before that, the call
    /// never starts and the exception is raised here.
    #[pyo3(signature = (*args))]
    fn throw(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let unstarted = {
            let mut state = self.state();
            let ready = matches!(*state, State::Ready(_));
            if ready {
                *state = State::Done;
            }
            ready
        };
        if unstarted {
            let exc = args.get_item(0)?;
            return Err(match args.get_item(1) {
                Ok(value) if !value.is_none() => PyErr::from_value(value),
                _ => PyErr::from_value(exc),
            });
        }
        self.step(py, "throw", args)
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let state = std::mem::replace(&mut *self.state(), State::Done);
        if let State::Running(iter) = state {
            iter.bind(py).call_method0("close")?;
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("<trainpod coroutine {}>", self.name)
    }
}
