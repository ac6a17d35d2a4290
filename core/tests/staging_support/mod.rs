//! A staging root full of traps, with a canary file outside it watched by inotify.
#![allow(dead_code, clippy::unwrap_used)]

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::staging::AppStaging;
use trainpod::token::{IssueRequest, KeyRing, Purpose, Tokens};

pub const NOW: u64 = 1_767_225_600;
pub const AUDIENCE: &str = "https://app.example.com";
pub const KEYS: &str = "k1:active:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// Entries in the root that must never be served, and why each is there.
pub const TRAPS: &[(&str, &str)] = &[
    (
        "link-out",
        "relative symlink to the canary outside the root",
    ),
    ("abs-link", "absolute symlink to the canary"),
    ("dir-link", "symlink to the directory outside the root"),
    ("dangling", "symlink to nothing"),
    ("loop", "symlink to itself"),
    ("hard", "hard link to the canary"),
    ("a-dir", "a directory"),
    ("fifo", "a FIFO (opening it for reading would block)"),
    ("proc-link", "symlink to /proc/self/root"),
];

/// A fresh base directory: `root/` with dataset `ds-1` and the traps, `outside/canary`.
pub struct Fixture {
    pub base: PathBuf,
    pub root: PathBuf,
    pub outside: PathBuf,
    pub canary: PathBuf,
    pub data: Vec<u8>,
    pub clock: Arc<ManualClock>,
    pub staging: AppStaging,
}

pub fn tokens(clock: Arc<ManualClock>, keys: &str, audience: &str) -> Tokens {
    Tokens::builder()
        .keys(KeyRing::parse(keys).unwrap())
        .audience(audience)
        .clock(clock)
        .build()
        .unwrap()
}

/// Dataset bytes of `len`: JSONL-ish lines so a corrupt offset shows.
pub fn dataset_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("{{\"text\":\"row {i}\"}}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_data(dataset_bytes(10_000))
    }

    pub fn with_data(data: Vec<u8>) -> Fixture {
        let base = std::env::temp_dir().join(format!("trainpod-staging-{}", uuid::Uuid::new_v4()));
        let (root, outside) = (base.join("root"), base.join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let canary = outside.join("canary");
        std::fs::write(&canary, b"CANARY: this file must never be opened").unwrap();
        std::fs::write(root.join("ds-1"), &data).unwrap();
        std::fs::write(root.join("ds-2"), b"{\"text\":\"other\"}\n").unwrap();
        symlink("../outside/canary", root.join("link-out")).unwrap();
        symlink(&canary, root.join("abs-link")).unwrap();
        symlink("../outside", root.join("dir-link")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        std::fs::hard_link(&canary, root.join("hard")).unwrap();
        std::fs::create_dir(root.join("a-dir")).unwrap();
        let fifo = Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        symlink("/proc/self/root", root.join("proc-link")).unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let staging = AppStaging::new(&root, tokens(clock.clone(), KEYS, AUDIENCE)).unwrap();
        Fixture {
            base,
            root,
            outside,
            canary,
            data,
            clock,
            staging,
        }
    }

    /// A `dataset.read` token for `dataset` of `job`, issued directly (any id the token format
    /// accepts, including ones the staging id check refuses).
    pub fn token_for(&self, job: &str, dataset: &str) -> String {
        let req = IssueRequest::new(Purpose::DatasetRead, "user-1", job).dataset(dataset);
        self.staging
            .tokens()
            .issue(&req)
            .unwrap()
            .token
            .expose()
            .to_owned()
    }

    /// `Bearer <token for ds-1 of job-1>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token_for("job-1", "ds-1"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Every open or read of the canary (through any name) or of anything in `outside/`.
pub struct OpenWatch {
    fd: OwnedFd,
}

impl OpenWatch {
    pub fn new(f: &Fixture) -> OpenWatch {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).unwrap();
        let what = WatchFlags::OPEN | WatchFlags::ACCESS;
        inotify::add_watch(&fd, &f.canary, what).unwrap();
        inotify::add_watch(&fd, &f.outside, what).unwrap();
        OpenWatch { fd }
    }

    /// The events seen since the last call.
    pub fn events(&self) -> Vec<ReadFlags> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        let mut out = Vec::new();
        while let Ok(event) = reader.next() {
            out.push(event.events());
        }
        out
    }

    /// Panic if anything outside the root was opened or read.
    pub fn assert_untouched(&self, case: &str) {
        let events = self.events();
        assert!(
            events.is_empty(),
            "{case}: a file outside the root was opened: {events:?}"
        );
    }
}

/// Runs an async call to the end from a synchronous test, on a runtime of its own (the staging
/// calls do their file work on tokio's blocking threads, so they need one).
pub trait Wait: std::future::Future + Sized {
    fn wait(self) -> Self::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(self)
    }
}

impl<F: std::future::Future> Wait for F {}
