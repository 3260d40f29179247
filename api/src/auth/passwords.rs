//! Password and client-secret hashing: Argon2id with OWASP's parameters
//! (m = 19456 KiB, t = 2, p = 1), stored as PHC strings.
//!
//! Each hash needs 19 MiB of working memory and tens of milliseconds of a core, and
//! anyone may ask for one (sign-in needs no account). So every hash a request needs runs
//! on the [`HashPool`]: a fixed set of threads, each reusing one working buffer, behind a
//! short queue. When the queue is full the request is refused at once (503 with
//! Retry-After) instead of piling up memory and threads.

use std::{
    sync::{mpsc, Arc, Mutex},
    thread,
};

use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use domain::identity::{PasswordCheck, Verdict};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult};

const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn params() -> Params {
    Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default()
}

/// Argon2's working memory, reused from one hash to the next: a pool thread keeps one
/// for its whole life, so memory stays at one 19 MiB block set per thread.
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        if self.0.len() < params.block_count() {
            self.0.resize(params.block_count(), Block::default());
        }
        &mut self.0[..params.block_count()]
    }

    /// Gives back anything beyond the current parameters' need (after checking a hash
    /// stored with larger ones).
    fn settle(&mut self) {
        let usual = params().block_count();
        if self.0.len() > usual {
            self.0.truncate(usual);
            self.0.shrink_to_fit();
        }
    }
}

/// A new PHC hash of `password` with the current parameters, computed in `memory`.
pub fn hash_with(memory: &mut Memory, password: &str) -> Result<String, String> {
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            memory.blocks(&params),
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Hashes with a fresh buffer: for start-up and command-line use, never per request.
pub fn hash(password: &str) -> Result<String, String> {
    hash_with(&mut Memory::default(), password)
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored with older parameters: store a fresh hash.
    YesButRehash,
}

/// Checks `password` against a stored PHC hash, computing in `memory`.
pub fn verify_with(memory: &mut Memory, password: &str, stored: &str) -> Verified {
    let verdict = check(memory, password, stored);
    memory.settle();
    verdict
}

fn check(memory: &mut Memory, password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return Verified::No;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return Verified::No;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return Verified::No;
    };
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.as_bytes(),
        salt_bytes,
        &mut out,
        memory.blocks(&params),
    );
    // `Output` compares in constant time.
    if computed.is_err() || Output::new(&out).ok() != Some(expected) {
        return Verified::No;
    }
    let current = self::params();
    let same = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && params.m_cost() == current.m_cost()
        && params.t_cost() == current.t_cost()
        && params.p_cost() == current.p_cost();
    if same {
        Verified::Yes
    } else {
        Verified::YesButRehash
    }
}

/// Checks with a fresh buffer: for tests and command-line use, never per request.
pub fn verify(password: &str, stored: &str) -> Verified {
    verify_with(&mut Memory::default(), password, stored)
}

enum Work {
    Hash(String),
    /// Check, and when the stored hash is outdated, hash again at once (one turn).
    Verify {
        password: String,
        stored: String,
    },
}

enum Done {
    Hashed(Result<String, String>),
    Verified(Verified, Option<String>),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Done>,
    /// Held until the hash is done, even when the request is gone meanwhile, so the
    /// bound counts the work really under way.
    _slot: OwnedSemaphorePermit,
}

/// How long a refused caller is asked to wait: one round of hashes is far shorter.
pub const BUSY_RETRY_AFTER_SECS: i64 = 1;

/// The bounded Argon2 pool: `threads` dedicated threads (each with its own reused
/// working memory) and room for `queue` more requests to wait.
pub struct HashPool {
    jobs: mpsc::SyncSender<Job>,
    slots: Arc<Semaphore>,
    threads: usize,
}

/// A place in the pool, taken before any other work of the request, so that a request
/// refused for lack of room has done and changed nothing.
pub struct Slot {
    permit: OwnedSemaphorePermit,
    jobs: mpsc::SyncSender<Job>,
}

impl HashPool {
    /// Starts the threads. `threads == 0` means one per available core.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = if threads == 0 {
            thread::available_parallelism().map_or(1, usize::from)
        } else {
            threads
        };
        let capacity = threads + queue;
        let (jobs, inbox) = mpsc::sync_channel::<Job>(capacity);
        let inbox = Arc::new(Mutex::new(inbox));
        for n in 0..threads {
            let inbox = Arc::clone(&inbox);
            thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&inbox))?;
        }
        Ok(HashPool {
            jobs,
            slots: Arc::new(Semaphore::new(capacity)),
            threads,
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Takes a place, or refuses at once when every thread is busy and the queue full.
    pub fn reserve(&self) -> ApiResult<Slot> {
        let permit = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            })?;
        Ok(Slot {
            permit,
            jobs: self.jobs.clone(),
        })
    }

    /// Reserves and hashes in one step.
    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.reserve()?.hash(password).await
    }
}

impl Slot {
    async fn run(self, work: Work) -> ApiResult<Done> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            reply,
            _slot: self.permit,
        };
        // The channel holds as many jobs as there are permits, so this never waits.
        self.jobs.try_send(job).map_err(|_| ApiError::Busy {
            retry_after_secs: BUSY_RETRY_AFTER_SECS,
        })?;
        // Awaited, not blocked on: the async worker serves other requests meanwhile.
        answer
            .await
            .map_err(|_| ApiError::Internal("password hashing thread stopped".into()))
    }

    /// The same, for a thread that may block (inside `web::block`): it waits for its
    /// turn without holding anything but this place.
    fn run_blocking(self, work: Work) -> Result<Done, String> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            reply,
            _slot: self.permit,
        };
        self.jobs
            .try_send(job)
            .map_err(|_| "password hashing queue is full".to_owned())?;
        answer
            .blocking_recv()
            .map_err(|_| "password hashing thread stopped".to_owned())
    }

    /// This place, spent on one sign-in's secret check; unknown accounts are checked
    /// against `dummy`, a real hash, so that they take as long to refuse.
    pub fn for_sign_in(self, dummy: String) -> SignInCheck {
        SignInCheck { slot: self, dummy }
    }

    /// A new hash of `password`.
    pub async fn hash(self, password: String) -> ApiResult<String> {
        match self.run(Work::Hash(password)).await? {
            Done::Hashed(result) => result.map_err(ApiError::Internal),
            Done::Verified(..) => Err(ApiError::Internal("unexpected hashing answer".into())),
        }
    }

    /// Checks `password` against `stored`; with a fresh hash when it needs one.
    pub async fn verify(
        self,
        password: String,
        stored: String,
    ) -> ApiResult<(Verified, Option<String>)> {
        match self.run(Work::Verify { password, stored }).await? {
            Done::Verified(verdict, fresh) => Ok((verdict, fresh)),
            Done::Hashed(_) => Err(ApiError::Internal("unexpected hashing answer".into())),
        }
    }
}

/// One sign-in's secret check, on a place already taken in the pool.
pub struct SignInCheck {
    slot: Slot,
    dummy: String,
}

impl PasswordCheck for SignInCheck {
    fn check(self, stored: Option<&str>, secret: &str) -> Result<Verdict, String> {
        let known = stored.is_some();
        let work = Work::Verify {
            password: secret.to_owned(),
            stored: stored.unwrap_or(&self.dummy).to_owned(),
        };
        match self.slot.run_blocking(work)? {
            Done::Verified(Verified::Yes | Verified::YesButRehash, fresh) if known => {
                Ok(Verdict::Right { rehashed: fresh })
            }
            Done::Verified(..) => Ok(Verdict::Wrong),
            Done::Hashed(_) => Err("unexpected hashing answer".into()),
        }
    }
}

fn work(inbox: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory = Memory::default();
    loop {
        let next = match inbox.lock() {
            Ok(inbox) => inbox.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else {
            return; // the pool is gone
        };
        let done = match job.work {
            Work::Hash(password) => Done::Hashed(hash_with(&mut memory, &password)),
            Work::Verify { password, stored } => {
                let verdict = verify_with(&mut memory, &password, &stored);
                let fresh = (verdict == Verified::YesButRehash)
                    .then(|| hash_with(&mut memory, &password).ok())
                    .flatten();
                Done::Verified(verdict, fresh)
            }
        };
        // The request may have gone away meanwhile; then nobody needs the answer.
        let _ = job.reply.send(done);
    }
}

#[cfg(test)]
mod tests {
    use argon2::{password_hash::PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let h = hash("correct horse battery staple").unwrap_or_default();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(verify("correct horse battery staple", &h), Verified::Yes);
        assert_eq!(verify("wrong", &h), Verified::No);
        assert_eq!(verify("anything", "not a hash"), Verified::No);
    }

    #[test]
    fn reused_memory_agrees_with_the_reference_implementation() {
        let mut memory = Memory::default();
        let ours = hash_with(&mut memory, "pw one").unwrap_or_default();
        let parsed = PasswordHash::new(&ours).unwrap_or_else(|e| panic!("{e}"));
        assert!(Argon2::default()
            .verify_password(b"pw one", &parsed)
            .is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"pw two", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert_eq!(verify_with(&mut memory, "pw two", &theirs), Verified::Yes);
        assert_eq!(verify_with(&mut memory, "pw one", &theirs), Verified::No);
        assert_eq!(verify_with(&mut memory, "pw one", &ours), Verified::Yes);
    }

    #[test]
    fn weaker_hashes_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap_or_default(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let h = weak
            .hash_password(b"pw", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert_eq!(verify("pw", &h), Verified::YesButRehash);
        let stronger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32_768, 2, 1, None).unwrap_or_default(),
        )
        .hash_password(b"pw", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default();
        let mut memory = Memory::default();
        assert_eq!(
            verify_with(&mut memory, "pw", &stronger),
            Verified::YesButRehash
        );
        // The buffer went back to its usual size after the larger hash.
        assert_eq!(memory.0.len(), params().block_count());
    }

    #[test]
    fn a_full_pool_refuses_at_once_and_frees_its_places() {
        let pool = HashPool::start(1, 1).unwrap_or_else(|e| panic!("{e}"));
        let first = pool.reserve();
        let second = pool.reserve();
        assert!(first.is_ok() && second.is_ok());
        assert!(matches!(
            pool.reserve(),
            Err(ApiError::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS
            })
        ));
        drop(first);
        assert!(pool.reserve().is_ok());
    }
}
