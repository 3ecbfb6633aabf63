//! Recorded OpenCode transcripts (opencode-ai 1.18.33) through the whole sans-IO pipeline:
//! `SseParser` → `Event` → `TurnTracker` → `RelayCore`, on virtual time.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use cloudify_core::i18n::Lang;
use cloudify_core::output::Output;
use cloudify_opencode::{Event, GlobalEvent, SseParser, TurnEvent, TurnTracker};
use cloudify_relay::core::{CoreConfig, Effect, Input, RelayCore};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cloudify-opencode/tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every transcript of the recordings.
pub fn transcripts() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cloudify-opencode/tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("sse-"))
        .collect();
    names.sort();
    names
}

pub fn events(name: &str) -> Vec<Event> {
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    for chunk in fixture(name).chunks(97) {
        parser.push(chunk, &mut frames);
    }
    // The recordings lost the blank line that terminates the last event on the wire.
    parser.push(b"\n", &mut frames);
    let global = name.contains("global");
    frames
        .iter()
        .map(|f| {
            if global {
                GlobalEvent::parse(&f.data).event
            } else {
                Event::parse(&f.data)
            }
        })
        .collect()
}

/// The tracker and the core fed like the shell feeds them: events `step` apart, the core's
/// wake-ups honoured on time.
pub struct Pipeline {
    pub tracker: TurnTracker,
    pub core: RelayCore,
    pub now: Instant,
    pub start: Instant,
    wake: Option<Instant>,
    /// Every effect, rendered in English, with the time it happened.
    pub log: Vec<String>,
    pub effects: Vec<Effect>,
}

impl Pipeline {
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            tracker: TurnTracker::new(),
            core: RelayCore::new(CoreConfig::default()),
            now,
            start: now,
            wake: None,
            log: Vec::new(),
            effects: Vec::new(),
        }
    }

    /// Moves the clock, waking the core on the way when it asked to be.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        while let Some(w) = self.wake.filter(|w| *w <= target) {
            self.wake = None;
            self.now = self.now.max(w);
            self.input(Input::Tick);
        }
        self.now = target;
    }

    pub fn input(&mut self, input: Input) {
        let fx = self.core.apply(input, self.now);
        for e in fx {
            if let Effect::WakeAt(t) = e {
                self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
            }
            let line = render(&e, self.start);
            self.log.push(line);
            self.effects.push(e);
        }
    }

    pub fn turn_events(&mut self, evs: Vec<TurnEvent>) {
        for ev in evs {
            self.input(Input::Turn(ev));
        }
    }

    /// One server event, then the progress the watcher's tick would flush.
    pub fn event(&mut self, e: &Event, step: Duration) {
        self.advance(step);
        let evs = self.tracker.apply(e, self.now);
        self.turn_events(evs);
        let evs = self.tracker.take_progress(self.now);
        self.turn_events(evs);
    }

    /// The watcher's housekeeping after the stream: a turn idle without a clear end is
    /// confirmed from REST (idle, no newer messages) after the grace period.
    pub fn settle(&mut self) {
        self.advance(Duration::from_secs(2));
        for sid in self
            .tracker
            .awaiting_final(self.now, Duration::from_millis(1500))
        {
            let evs = self.tracker.resync(&sid, None, &[], self.now);
            self.turn_events(evs);
        }
        self.advance(Duration::from_secs(2));
    }

    pub fn replay(name: &str, step: Duration) -> Self {
        let mut p = Self::new();
        for e in events(name) {
            p.event(&e, step);
        }
        p.settle();
        p
    }
}

fn out_text(o: &Output) -> String {
    match o {
        Output::Text { text } | Output::Plain { text } | Output::Notice { text } => text.clone(),
        Output::Error { message, .. } => format!("ERROR {message}"),
        Output::Progress(p) => {
            let mut s = p.status.clone();
            if !p.answer.is_empty() {
                s.push_str(&format!(" | {}", p.answer));
            }
            if let Some(t) = &p.tool {
                s.push_str(&format!(" | {}", t.replace('\n', " / ")));
            }
            for t in &p.todos {
                let mark = if t.done {
                    "☑"
                } else if t.active {
                    "▶"
                } else {
                    "☐"
                };
                s.push_str(&format!(" | {mark} {}", t.text));
            }
            s
        }
        Output::Prompt(p) => {
            let mut s = p.text.clone();
            if let Some(d) = &p.detail {
                s.push_str(&format!(" | detail: {}", d.lines().next().unwrap_or("")));
            }
            for row in &p.buttons {
                for b in row {
                    s.push_str(&format!(" [{} = {}]", b.label, b.command));
                }
            }
            s
        }
        other => format!("{other:?}"),
    }
}

/// One line per effect: `+1000ms show-live: ⏳ Working… 1s | Hello`.
pub fn render(e: &Effect, start: Instant) -> String {
    let l = Lang::En;
    match e {
        Effect::WakeAt(t) => format!("wake-at +{}ms", t.duration_since(start).as_millis()),
        Effect::ShowLive(v) => format!("show-live: {}", out_text(&v.render(l))),
        Effect::UpdateLive(v) => format!("update-live: {}", out_text(&v.render(l))),
        Effect::CloseLive(end) => format!("close-live: {}", out_text(&end.render_live(l))),
        Effect::Answer(a) => format!("answer: {}", out_text(&a.render(l))),
        Effect::ShowPrompt(p) => format!("show-prompt: {}", out_text(&p.render(l))),
        Effect::ResolvePrompt {
            request_id,
            outcome,
        } => format!(
            "resolve-prompt {request_id}: {}",
            out_text(&outcome.render(l))
        ),
    }
}
