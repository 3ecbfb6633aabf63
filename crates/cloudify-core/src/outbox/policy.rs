use crate::adapter::{ChatRef, DeliveryError, PlatformLimits, SentId};
use crate::output::Envelope;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

/// Names a message before the platform has given it an id, so it can be edited early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u64);

/// Identifies one dispatched call, to report its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxPolicy {
    /// Average spacing of calls to one chat: the refill time of one unit of its budget.
    pub per_chat_interval_ms: u64,
    /// Calls one chat may take back to back when its budget is full (token bucket size).
    pub per_chat_burst: u32,
    pub group_per_minute: u32,
    pub global_per_second: u32,
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl OutboxPolicy {
    pub fn from_limits(l: &PlatformLimits) -> Self {
        Self {
            per_chat_interval_ms: l.per_chat_interval.as_millis() as u64,
            per_chat_burst: l.per_chat_burst,
            group_per_minute: l.group_per_minute,
            global_per_second: l.global_per_second,
            ..Self::default()
        }
    }
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self {
            per_chat_interval_ms: 1000,
            per_chat_burst: 3,
            group_per_minute: 20,
            global_per_second: 30,
            max_attempts: 8,
            base_backoff_ms: 1000,
            max_backoff_ms: 60_000,
        }
    }
}

/// The bot-wide window, with a margin: our clock counts whole milliseconds and the
/// platform's window is exact, so a call let go 1000 ms after another completed could
/// reach it 999.x ms after that one arrived (a 429 from the fake Bot API on loopback).
const GLOBAL_WINDOW_MS: u64 = 1010;

/// "Not before a call on the wire completes" (no time can be named).
const WAIT_COMPLETION: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Send,
    Edit,
    Delete,
}

#[derive(Debug, Clone)]
struct Op {
    kind: OpKind,
    local: LocalId,
    env: Option<Envelope>,
    cost: u32,
    attempts: u32,
}

/// A call the driver must make now.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub ticket: Ticket,
    pub chat: ChatRef,
    pub kind: OpKind,
    pub local: LocalId,
    /// The platform id of the message, for edits and deletes.
    pub sent_id: Option<SentId>,
    pub env: Option<Envelope>,
}

/// What became of a call, for the driver to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    Done,
    /// Will be tried again later; nothing to do.
    Retrying,
    /// Cannot be delivered now: keep these for the user's backlog (oldest first).
    Undeliverable(Vec<Envelope>),
    /// Refused for good (logged by the driver); nothing else to do.
    Dropped(DeliveryError),
}

#[derive(Debug, Default)]
struct Chat {
    queue: VecDeque<Op>,
    in_flight: Option<Ticket>,
    /// No call before this time (retry_after or backoff).
    not_before: u64,
    /// Token bucket of the chat's pacing, as the time it is whole again (GCRA's
    /// "theoretical arrival time"): each call pushes it one interval per unit of cost past
    /// the call's completion. A call may start while at least one unit is left, i.e. at
    /// `full_at − (burst − 1) × interval`. 0: whole.
    full_at: u64,
    /// Call times in the last minute (group budget).
    recent: VecDeque<u64>,
    sent: HashMap<LocalId, SentId>,
    /// Hash of what each message shows now, to skip unchanged edits.
    shown: HashMap<LocalId, u64>,
}

#[derive(Debug)]
pub struct Outbox {
    policy: OutboxPolicy,
    chats: HashMap<ChatRef, Chat>,
    /// Bot-wide budget: completion times of calls that ended in the last second. A call
    /// counts from dispatch until a second after it completed: the platform counts it when
    /// it arrives, some time between the two, so a window over dispatch times lets calls
    /// delayed on the way (a busy runtime, the network) bunch up past the limit.
    global: VecDeque<u64>,
    /// Budget units of the calls on the wire now (the rest of the bot-wide budget).
    global_in_flight: u32,
    /// Ticket → chat and the budget units the call holds.
    in_flight: HashMap<Ticket, (ChatRef, u32)>,
    next_id: u64,
}

fn content_hash(env: &Envelope) -> u64 {
    let mut h = DefaultHasher::new();
    // Envelope is plain data; its JSON is a stable fingerprint.
    serde_json::to_string(env).unwrap_or_default().hash(&mut h);
    h.finish()
}

impl Outbox {
    pub fn new(policy: OutboxPolicy) -> Self {
        Self {
            policy,
            chats: HashMap::new(),
            global: VecDeque::new(),
            global_in_flight: 0,
            in_flight: HashMap::new(),
            next_id: 1,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Queues a new message; `cost` is how many platform calls it takes.
    pub fn send(&mut self, chat: ChatRef, env: Envelope, cost: u32) -> LocalId {
        let local = LocalId(self.id());
        let op = Op {
            kind: OpKind::Send,
            local,
            env: Some(env),
            cost: cost.max(1),
            attempts: 0,
        };
        let c = self.chats.entry(chat).or_default();
        // A new message goes before the edits queued since the chat's last send or delete
        // (live progress, prompt outcomes): it carries news, they only update what is on
        // screen already. Sends keep their order, and the call on the wire stays first.
        let first_mutable = usize::from(c.in_flight.is_some());
        let mut at = c.queue.len();
        while at > first_mutable && c.queue[at - 1].kind == OpKind::Edit {
            at -= 1;
        }
        c.queue.insert(at, op);
        local
    }

    /// Queues an edit. A queued edit of the same message is replaced (newest wins); an edit
    /// to what the message already shows, or will show, is skipped.
    pub fn edit(&mut self, chat: ChatRef, local: LocalId, env: Envelope) {
        let hash = content_hash(&env);
        let c = self.chats.entry(chat).or_default();
        // The front op may be on the wire already; only ops behind it can still change.
        let first_mutable = usize::from(c.in_flight.is_some());
        if c.queue
            .iter()
            .rev()
            .find(|op| op.local == local)
            .is_some_and(|op| op.kind == OpKind::Delete)
        {
            return; // on its way out
        }
        let pending = c
            .queue
            .iter_mut()
            .skip(first_mutable)
            .rev()
            .find(|op| op.local == local);
        if let Some(op) = pending {
            // A queued edit, or a send not made yet: it carries the newest content instead.
            op.env = Some(env);
            return;
        }
        let last_queued = c
            .queue
            .iter()
            .rev()
            .find(|op| op.local == local)
            .and_then(|op| op.env.as_ref());
        let will_show = last_queued
            .map(content_hash)
            .or_else(|| c.shown.get(&local).copied());
        if will_show == Some(hash) {
            return;
        }
        c.queue.push_back(Op {
            kind: OpKind::Edit,
            local,
            env: Some(env),
            cost: 1,
            attempts: 0,
        });
    }

    /// Queues a delete. Queued edits of the message are dropped, and a message not sent yet
    /// is simply never sent.
    pub fn delete(&mut self, chat: ChatRef, local: LocalId) {
        let c = self.chats.entry(chat).or_default();
        let first_mutable = usize::from(c.in_flight.is_some());
        let mut unsent = false;
        let mut i = first_mutable;
        while i < c.queue.len() {
            if c.queue[i].local == local {
                unsent |= c.queue[i].kind == OpKind::Send;
                c.queue.remove(i);
            } else {
                i += 1;
            }
        }
        if !unsent {
            c.queue.push_back(Op {
                kind: OpKind::Delete,
                local,
                env: None,
                cost: 1,
                attempts: 0,
            });
        }
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.chats.values().all(|c| c.queue.is_empty())
    }

    pub fn queued(&self) -> usize {
        self.chats.values().map(|c| c.queue.len()).sum()
    }

    fn trim_windows(&mut self, now: u64) {
        while self
            .global
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= GLOBAL_WINDOW_MS)
        {
            self.global.pop_front();
        }
        for c in self.chats.values_mut() {
            while c
                .recent
                .front()
                .is_some_and(|t| now.saturating_sub(*t) >= 60_000)
            {
                c.recent.pop_front();
            }
        }
    }

    /// Earliest time the chat may make a call of `cost`, given its own budgets.
    fn chat_ready_at(&self, chat: &ChatRef, c: &Chat, cost: u32) -> u64 {
        // One unit of the bucket is enough to start: the parts of a send of several calls
        // are spaced one interval apart by the adapter, which refills what they take.
        let spare =
            u64::from(self.policy.per_chat_burst.max(1) - 1) * self.policy.per_chat_interval_ms;
        let mut at = c.not_before.max(c.full_at.saturating_sub(spare));
        if chat.is_group && self.policy.group_per_minute > 0 {
            let limit = self.policy.group_per_minute as usize;
            let need = (c.recent.len() + cost as usize).saturating_sub(limit);
            if let Some(t) = need.checked_sub(1).and_then(|i| c.recent.get(i)) {
                at = at.max(t + 60_000);
            }
        }
        at
    }

    /// Earliest time a call of `cost` fits the bot-wide budget; [`WAIT_COMPLETION`] when
    /// only the end of a call on the wire can make room.
    fn global_ready_at(&self, cost: u32) -> u64 {
        let limit = self.policy.global_per_second as usize;
        let in_flight = self.global_in_flight as usize;
        let need = (in_flight + self.global.len() + cost as usize).saturating_sub(limit);
        if need == 0 {
            return 0;
        }
        match self.global.get(need - 1) {
            Some(t) => t + GLOBAL_WINDOW_MS,
            // A call bigger than the whole budget goes once nothing else is counted.
            None if in_flight == 0 => 0,
            None => WAIT_COMPLETION,
        }
    }

    /// The next call to make now, if any budget allows one.
    pub fn next(&mut self, now: u64) -> Option<Dispatch> {
        self.trim_windows(now);
        let mut best: Option<(u64, ChatRef)> = None;
        for (chat, c) in &self.chats {
            let Some(op) = c.queue.front() else { continue };
            if c.in_flight.is_some() {
                continue;
            }
            let at = self
                .chat_ready_at(chat, c, op.cost)
                .max(self.global_ready_at(op.cost));
            // Oldest waiting first would need timestamps; lowest ready time is fair enough.
            if at <= now && best.as_ref().is_none_or(|(b, _)| at < *b) {
                best = Some((at, chat.clone()));
            }
        }
        let (_, chat) = best?;
        let c = self.chats.get_mut(&chat)?;
        let op = c.queue.front()?.clone();
        let sent_id = c.sent.get(&op.local).cloned();
        if op.kind != OpKind::Send && sent_id.is_none() {
            // Its send was refused for good: there is nothing to edit or delete.
            c.queue.pop_front();
            return self.next(now);
        }
        // Budgets are spent when the call starts: a slow platform must not let a burst through.
        for _ in 0..op.cost {
            c.recent.push_back(now);
        }
        self.global_in_flight += op.cost;
        self.next_id += 1;
        let ticket = Ticket(self.next_id);
        c.in_flight = Some(ticket);
        self.in_flight.insert(ticket, (chat.clone(), op.cost));
        Some(Dispatch {
            ticket,
            chat,
            kind: op.kind,
            local: op.local,
            sent_id,
            env: op.env,
        })
    }

    /// When `next` may have something again (for the driver's sleep).
    pub fn next_wakeup(&self) -> Option<u64> {
        self.chats
            .iter()
            .filter(|(_, c)| c.in_flight.is_none())
            .filter_map(|(chat, c)| {
                c.queue.front().map(|op| {
                    self.chat_ready_at(chat, c, op.cost)
                        .max(self.global_ready_at(op.cost))
                })
            })
            // Waiting for a completion: `complete` is the wake-up.
            .filter(|at| *at != WAIT_COMPLETION)
            .min()
    }

    /// Reports the result of a dispatched call.
    pub fn complete(
        &mut self,
        ticket: Ticket,
        result: Result<Option<SentId>, DeliveryError>,
        now: u64,
    ) -> Completion {
        let Some((chat, cost)) = self.in_flight.remove(&ticket) else {
            return Completion::Done;
        };
        self.global_in_flight -= cost;
        for _ in 0..cost {
            self.global.push_back(now);
        }
        let policy = self.policy.clone();
        let Some(c) = self.chats.get_mut(&chat) else {
            return Completion::Done;
        };
        c.in_flight = None;
        // Per chat, too, the platform counts a call when it arrives, which may be as late as
        // its completion: the bucket is charged as if it arrived now. A send of several calls
        // ends with its last part, whose predecessors went out an interval apart each.
        let interval = policy.per_chat_interval_ms;
        c.full_at = (c.full_at + interval * u64::from(cost)).max(now + interval);
        let Some(op) = c.queue.front_mut() else {
            return Completion::Done;
        };
        match result {
            Ok(sent) => {
                let op = c
                    .queue
                    .pop_front()
                    .unwrap_or_else(|| unreachable!("front exists"));
                match op.kind {
                    OpKind::Send | OpKind::Edit => {
                        if let Some(id) = sent {
                            c.sent.insert(op.local, id);
                        }
                        if let Some(env) = &op.env {
                            c.shown.insert(op.local, content_hash(env));
                        }
                    }
                    OpKind::Delete => {
                        c.sent.remove(&op.local);
                        c.shown.remove(&op.local);
                    }
                }
                Completion::Done
            }
            Err(DeliveryError::RetryAfter(wait)) => {
                // Not the call's fault: no attempt counted.
                c.not_before = c.not_before.max(now + wait.as_millis() as u64);
                Completion::Retrying
            }
            Err(DeliveryError::Transient(_)) if op.attempts + 1 < policy.max_attempts => {
                op.attempts += 1;
                let backoff = policy
                    .base_backoff_ms
                    .saturating_mul(1 << op.attempts.min(16));
                c.not_before = c.not_before.max(now + backoff.min(policy.max_backoff_ms));
                Completion::Retrying
            }
            Err(DeliveryError::Transient(_) | DeliveryError::Unreachable(_)) => {
                // The chat is out of reach: everything queued for it goes to the backlog, in
                // order, except live progress, which is stale by the time anyone reads it.
                let ops: Vec<Op> = c.queue.drain(..).collect();
                let kept = ops
                    .into_iter()
                    .filter(|op| op.kind == OpKind::Send)
                    .filter_map(|op| op.env)
                    .filter(|env| !env.body.is_ephemeral())
                    .collect();
                Completion::Undeliverable(kept)
            }
            Err(e @ DeliveryError::Rejected(_)) => {
                c.queue.pop_front();
                Completion::Dropped(e)
            }
        }
    }

    /// Drops per-chat state of idle chats (bounded memory on long runs).
    pub fn forget_idle(&mut self, now: u64) {
        self.chats.retain(|_, c| {
            !c.queue.is_empty()
                || c.in_flight.is_some()
                || now.saturating_sub(c.not_before.max(c.full_at)) < 3_600_000
        });
    }

    pub fn policy(&self) -> &OutboxPolicy {
        &self.policy
    }
}
