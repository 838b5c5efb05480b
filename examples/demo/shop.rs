//! The shop: an axum service whose routes each carry one anti-pattern a
//! real team writes, and, with `--fixed`, the same routes with the fix.
//!
//! The downstreams are fakes on timers (a pricing service, a 20-connection
//! database pool, a mailer, a feed backend that sometimes hangs, an
//! inventory service that serves 16 calls at once, a shipping carrier), so
//! the demo needs nothing but loopback.
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tracing::{info_span, Instrument};

use crate::common;

/// The fake downstreams and the shop's own resources.
pub struct Shop {
    fixed: bool,
    /// The database: 20 connections.
    db_pool: Arc<Semaphore>,
    /// The feed backend: 20 connections.
    feed_backend: Arc<Semaphore>,
    /// The inventory service serves 16 calls at once; more wait there.
    inventory: Arc<Semaphore>,
    /// Fixed shape only: the shop's own limit in front of inventory, sized
    /// by the doctor's `tokio_doctor_concurrency_recommended` (16).
    inventory_limit: Semaphore,
    events: Events,
    /// Request counter: decides deterministically which call hangs.
    calls: AtomicU64,
    #[cfg(feature = "connections")]
    rates: crate::rates::Rates,
}

enum Events {
    Unbounded(tokio_doctor::queue::UnboundedSender<u64>),
    Bounded(tokio_doctor::queue::Sender<u64>),
}

const HASH_COST: Duration = Duration::from_millis(20);
const CART_ITEMS: u64 = 12;
const FEED_FOLLOWS: u64 = 1_100;
const EVENTS_PER_REQUEST: u64 = 10;
const QUOTE_LINES: u64 = 200;
const IMPORT_SKUS: u64 = 15_000;

/// Builds the shop (and starts its analytics consumer) and its router.
pub fn router(fixed: bool, service_addr: std::net::SocketAddr) -> Router<()> {
    let events = if fixed {
        let (tx, rx) = tokio_doctor::queue::channel("analytics.events", 100);
        tokio::spawn(consume_bounded(rx));
        Events::Bounded(tx)
    } else {
        let (tx, rx) = tokio_doctor::queue::unbounded_channel("analytics.events");
        tokio::spawn(consume_unbounded(rx));
        Events::Unbounded(tx)
    };
    let _ = service_addr;
    if fixed {
        start_hashers();
    }
    let shop = Arc::new(Shop {
        fixed,
        db_pool: Arc::new(Semaphore::new(20)),
        feed_backend: Arc::new(Semaphore::new(20)),
        inventory: Arc::new(Semaphore::new(16)),
        inventory_limit: Semaphore::new(16),
        events,
        calls: AtomicU64::new(0),
        #[cfg(feature = "connections")]
        rates: crate::rates::Rates::new(fixed, service_addr),
    });
    let app = Router::new()
        .route("/login", get(login))
        .route("/cart", get(cart))
        .route("/checkout", get(checkout))
        .route("/feed", get(feed))
        .route("/stock", get(stock))
        .route("/events", get(track_events))
        .route("/quote", get(quote))
        .route("/import", get(import))
        .route("/shipping", get(shipping))
        .route("/health", get(|| async { "ok\n" }));
    #[cfg(feature = "connections")]
    let app = app
        .route("/rates", get(rates))
        .route("/internal/rates", get(|| async { "EUR 1.08\n" }));
    app.with_state(shop)
}

type S = State<Arc<Shop>>;

// ---- /login: a password hash on the runtime worker (blocking_poll) ----

async fn login(State(shop): S) -> String {
    format!("{:x}\n", hash_password(shop.fixed).await)
}

/// Bad: 20 ms of CPU on the worker that polls this request, so every other
/// request queued on that worker waits. Fixed: on a CPU pool of its own
/// (what rayon gives; `spawn_blocking` works too).
#[tracing::instrument(skip_all)]
async fn hash_password(fixed: bool) -> u64 {
    if fixed {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _ = done.send(common::expensive_hash(HASH_COST));
        });
        if HASHERS.send(job).is_err() {
            return 0;
        }
        result.await.unwrap_or(0)
    } else {
        common::expensive_hash(HASH_COST)
    }
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Two hashing threads fed by a channel: a send is a lock-free push, so
/// the worker never waits on a pool's lock or for a thread to be created.
static HASHERS: std::sync::LazyLock<std::sync::mpsc::Sender<HashJob>> =
    std::sync::LazyLock::new(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for _ in 0..2 {
            let rx = rx.clone();
            std::thread::spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            });
        }
        tx
    });

/// Starts the hashing threads before the first request (fixed shape).
pub fn start_hashers() {
    std::sync::LazyLock::force(&HASHERS);
}

// ---- /cart: a loop of awaits over independent lookups (serial_awaits) ----

async fn cart(State(shop): S) -> String {
    format!("total {}\n", load_cart(shop.fixed).await)
}

/// Bad: twelve independent price lookups awaited one after another (12 ×
/// 25 ms). Fixed: `join_all`, about 25 ms in all.
#[tracing::instrument(skip_all)]
async fn load_cart(fixed: bool) -> u64 {
    if fixed {
        futures_util::future::join_all((0..CART_ITEMS).map(price))
            .await
            .into_iter()
            .sum()
    } else {
        let mut total = 0;
        for item in 0..CART_ITEMS {
            total += price(item).await;
        }
        total
    }
}

/// One call to the pricing service, with a deadline (the team did that).
async fn price(item: u64) -> u64 {
    bounded(Duration::from_millis(500), async move {
        tokio::time::sleep(Duration::from_millis(25))
            .instrument(info_span!("pricing.get", peer.service = "pricing"))
            .await;
        100 + item
    })
    .await
    .unwrap_or(0)
}

// ---- /checkout: a transaction held across a slow call (held_across_await,
// slow_work_while_held) ----

async fn checkout(State(shop): S) -> &'static str {
    place_order(&shop).await;
    "ordered\n"
}

/// Bad: the confirmation mail (300 ms) is sent inside the transaction, so
/// its database connection sits idle for 300 ms of every order. Fixed:
/// commit first, then send.
#[tracing::instrument(skip_all)]
async fn place_order(shop: &Shop) {
    let Ok(conn) = shop.db_pool.acquire().await else {
        return;
    };
    let tx = tokio_doctor::held("orders.tx", conn);
    db_query("insert into orders").await;
    if !shop.fixed {
        send_confirmation().await;
    }
    db_query("update stock").await;
    drop(tx); // commit: the connection goes back to the pool
    if shop.fixed {
        send_confirmation().await;
    }
}

async fn db_query(statement: &'static str) {
    let _ = bounded(Duration::from_secs(1), async move {
        tokio::time::sleep(Duration::from_millis(2))
            .instrument(info_span!("db.query", db.system = "postgresql", statement))
            .await
    })
    .await;
}

async fn send_confirmation() {
    let _ = bounded(Duration::from_secs(2), async {
        tokio::time::sleep(Duration::from_millis(300))
            .instrument(info_span!("mailer.send", peer.service = "mailer"))
            .await
    })
    .await;
}

// ---- /feed: a fan-out with no deadline to a backend that sometimes hangs
// (unbounded_fanout, missing_deadline) ----

async fn feed(State(shop): S) -> String {
    format!("{} updates\n", build_feed(&shop).await)
}

/// Bad: `join_all` over all 1,100 followed shops at once, none with a
/// deadline; one call in 400 hangs for 3 s and holds the whole page.
/// Fixed: 16 at a time, each bounded at 200 ms.
#[tracing::instrument(skip_all)]
async fn build_feed(shop: &Shop) -> usize {
    if shop.fixed {
        futures_util::stream::iter(0..FEED_FOLLOWS)
            .map(|_| bounded(Duration::from_millis(200), feed_get(shop)))
            .buffer_unordered(16)
            .count()
            .await
    } else {
        futures_util::future::join_all((0..FEED_FOLLOWS).map(|_| feed_get(shop)))
            .await
            .len()
    }
}

async fn feed_get(shop: &Shop) {
    let hangs = shop.calls.fetch_add(1, Relaxed) % 400 == 399;
    let backend = shop.feed_backend.clone();
    async move {
        let _conn = backend.acquire().await;
        let ms = if hangs { 3_000 } else { 10 };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    .instrument(info_span!("feed.get", peer.service = "feed"))
    .await
}

// ---- /stock: no limit in front of a downstream that serves 16 at once
// (concurrency_advice) ----

async fn stock(State(shop): S) -> &'static str {
    check_stock(&shop).await;
    "in stock\n"
}

/// Bad: every request calls inventory at once; past 16 in flight the
/// calls only queue there (more latency, no more throughput). Fixed: the
/// shop's own limit of 16, the doctor's recommendation.
async fn check_stock(shop: &Shop) {
    let _permit = if shop.fixed {
        shop.inventory_limit.acquire().await.ok()
    } else {
        None
    };
    let inventory = shop.inventory.clone();
    let _ = bounded(Duration::from_secs(3), async move {
        async move {
            let _slot = inventory.acquire().await;
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
        .instrument(info_span!("inventory.get", peer.service = "inventory"))
        .await
    })
    .await;
}

// ---- /events: an unbounded queue whose consumer falls behind
// (queue_growth) ----

async fn track_events(State(shop): S) -> &'static str {
    for e in 0..EVENTS_PER_REQUEST {
        match &shop.events {
            // Bad: never waits, whatever the consumer's pace.
            Events::Unbounded(tx) => {
                let _ = tx.send(e);
            }
            // Fixed: waits when 100 are queued (back-pressure).
            Events::Bounded(tx) => {
                let _ = tx.send(e).await;
            }
        }
    }
    "tracked\n"
}

/// The analytics writer: 40 events a second, whatever comes in.
async fn consume_unbounded(mut rx: tokio_doctor::queue::UnboundedReceiver<u64>) {
    while rx.recv().await.is_some() {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn consume_bounded(mut rx: tokio_doctor::queue::Receiver<u64>) {
    while rx.recv().await.is_some() {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---- /quote: a task per line for arithmetic (trivial_async) ----

async fn quote(State(shop): S) -> String {
    let mut total = 0u64;
    for line in 0..QUOTE_LINES {
        total += if shop.fixed {
            tax(line) // Fixed: a plain function call.
        } else {
            // Bad: a task for a multiplication.
            tokio_doctor::spawn(async move { tax(line) })
                .await
                .unwrap_or(0)
        };
    }
    format!("{total}\n")
}

fn tax(line: u64) -> u64 {
    (100 + line) * 21 / 100
}

// ---- /import: a task per item (excess_tasks) ----

async fn import(State(shop): S) -> String {
    format!("imported {}\n", import_catalog(&shop).await)
}

/// Bad: 15,000 SKUs, a task each, all alive at once, waiting for 20 database
/// connections. Fixed: batches of 500 on 8 workers.
#[tracing::instrument(skip_all)]
async fn import_catalog(shop: &Shop) -> u64 {
    let mut done = 0;
    if shop.fixed {
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..8 {
            let db = shop.db_pool.clone();
            workers.spawn(tokio_doctor::spawn(async move {
                let mut saved = 0;
                for _batch in (w..IMPORT_SKUS / 500).step_by(8) {
                    let _conn = db.acquire().await;
                    tokio::time::sleep(Duration::from_millis(2)).await; // one bulk insert
                    saved += 500;
                }
                saved
            }));
        }
        while let Some(n) = workers.join_next().await {
            done += n.ok().and_then(Result::ok).unwrap_or(0);
        }
    } else {
        let mut tasks = Vec::with_capacity(IMPORT_SKUS as usize);
        for sku in 0..IMPORT_SKUS {
            let db = shop.db_pool.clone();
            tasks.push(tokio_doctor::spawn(async move {
                let _conn = db.acquire().await;
                tokio::time::sleep(Duration::from_millis(1)).await; // one insert
                sku
            }));
            if sku % 500 == 499 {
                // Spawning 15,000 in one poll would also block the worker;
                // this team fixed that one.
                tokio::task::yield_now().await;
            }
        }
        for t in tasks {
            done += u64::from(t.await.is_ok());
        }
    }
    done
}

// ---- /shipping: a deadline that stops the wait, not the work
// (deadline_overrun) ----

async fn shipping(State(shop): S) -> &'static str {
    let slow = shop.calls.fetch_add(1, Relaxed) % 5 == 0;
    let budget = Duration::from_millis(200);
    let quoted = if shop.fixed {
        // Fixed: the deadline wraps the call, which is dropped on expiry.
        bounded(budget, async move { carrier_quote(slow).await })
            .await
            .is_ok()
    } else {
        // Bad: the call runs in a task of its own; the deadline only stops
        // the wait, and the call (and, for real, its connection) runs on.
        bounded(
            budget,
            async move { tokio::spawn(carrier_quote(slow)).await },
        )
        .await
        .is_ok()
    };
    if quoted {
        "quoted\n"
    } else {
        "flat rate\n"
    }
}

/// The carrier's API: 20 ms, or 1 s for one call in five. The span is
/// created here, in the caller's deadline scope.
fn carrier_quote(slow: bool) -> impl Future<Output = ()> {
    let span = info_span!("carrier.quote", peer.service = "carrier");
    let ms = if slow { 1_000 } else { 20 };
    tokio::time::sleep(Duration::from_millis(ms)).instrument(span)
}

// ---- /rates (`connections` feature): a client per call (connection_churn) ----

#[cfg(feature = "connections")]
async fn rates(State(shop): S) -> String {
    shop.rates.get().await
}

/// `tokio_doctor::deadline`: cancels the call on expiry, and every span
/// created inside it has a deadline in scope.
fn bounded<F: Future>(limit: Duration, call: F) -> tokio_doctor::Deadline<F> {
    tokio_doctor::deadline(limit, call)
}
