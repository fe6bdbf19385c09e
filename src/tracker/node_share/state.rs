//! The node's shared coordination state, as text (one `flock`ed file; see the parent module).

/// One participant's line.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Member {
    pub id: String,
    /// When it joined (CLOCK_MONOTONIC, ns): its measurements cover the time since.
    pub start_ns: u64,
    /// The time of its last measurement (its shares are in `pending` up to there).
    pub measured_until_ns: u64,
    /// What it counted (share, node or GPUs) and has not reported (written to its outputs)
    /// yet: taken over by a survivor if it dies.
    pub unreported_cpu_kwh: f64,
    pub unreported_ram_kwh: f64,
    pub unreported_gpu_kwh: f64,
}

/// One GPU's line.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct GpuState {
    pub uuid: String,
    pub counted_until_ns: u64,
    /// Its energy counter's reading at `counted_until_ns`, mJ (GPUs with a counter).
    pub counter_mj: Option<u64>,
    /// `gpu_share=split`: the shares the ranks that do not count it counted and its counter
    /// has not taken off yet, J.
    pub pending_j: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct State {
    /// Up to where the node's machine-wide CPU and RAM energy is counted.
    pub counted_until_ns: u64,
    /// Shares the other ranks counted as their own, not yet subtracted by a counter.
    pub pending_cpu_kwh: f64,
    pub pending_ram_kwh: f64,
    /// What dead members counted and never reported: the next rank to measure takes it over.
    pub orphan_cpu_kwh: f64,
    pub orphan_ram_kwh: f64,
    pub orphan_gpu_kwh: f64,
    pub members: Vec<Member>,
    pub gpus: Vec<GpuState>,
}

fn num<T: std::str::FromStr + Default>(f: &[&str], i: usize) -> T {
    f.get(i).and_then(|x| x.parse().ok()).unwrap_or_default()
}

impl State {
    pub fn parse(text: &str) -> State {
        let mut st = State::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f[..] {
                ["node", ..] => {
                    st.counted_until_ns = num(&f, 1);
                    st.pending_cpu_kwh = num(&f, 2);
                    st.pending_ram_kwh = num(&f, 3);
                    st.orphan_cpu_kwh = num(&f, 4);
                    st.orphan_ram_kwh = num(&f, 5);
                    st.orphan_gpu_kwh = num(&f, 6);
                }
                ["member", id, ..] if f.len() == 7 => st.members.push(Member {
                    id: id.to_string(),
                    start_ns: num(&f, 2),
                    measured_until_ns: num(&f, 3),
                    unreported_cpu_kwh: num(&f, 4),
                    unreported_ram_kwh: num(&f, 5),
                    unreported_gpu_kwh: num(&f, 6),
                }),
                // `pending_j` is the 5th field (a 4-field line, written without it, still parses).
                ["gpu", uuid, until, mj, ..] if f.len() <= 5 => st.gpus.push(GpuState {
                    uuid: uuid.to_string(),
                    counted_until_ns: until.parse().unwrap_or(0),
                    counter_mj: mj.parse().ok(),
                    pending_j: num(&f, 4),
                }),
                _ => {}
            }
        }
        st
    }

    pub fn text(&self) -> String {
        let mut t = format!(
            "node {} {:e} {:e} {:e} {:e} {:e}\n",
            self.counted_until_ns, self.pending_cpu_kwh, self.pending_ram_kwh, self.orphan_cpu_kwh, self.orphan_ram_kwh, self.orphan_gpu_kwh
        );
        for m in &self.members {
            t.push_str(&format!(
                "member {} {} {} {:e} {:e} {:e}\n",
                m.id, m.start_ns, m.measured_until_ns, m.unreported_cpu_kwh, m.unreported_ram_kwh, m.unreported_gpu_kwh
            ));
        }
        for g in &self.gpus {
            let mj = g.counter_mj.map_or("-".to_string(), |m| m.to_string());
            t.push_str(&format!("gpu {} {} {mj} {:e}\n", g.uuid, g.counted_until_ns, g.pending_j));
        }
        t
    }

    pub fn gpu(&mut self, uuid: &str) -> &mut GpuState {
        match self.gpus.iter().position(|g| g.uuid == uuid) {
            Some(i) => &mut self.gpus[i],
            None => {
                self.gpus.push(GpuState { uuid: uuid.to_string(), ..GpuState::default() });
                self.gpus.last_mut().expect("just pushed")
            }
        }
    }

    /// Member `id`'s line (made, joined at `start_ns`, if missing).
    pub fn member(&mut self, id: &str, start_ns: u64) -> &mut Member {
        match self.members.iter().position(|m| m.id == id) {
            Some(i) => &mut self.members[i],
            None => {
                self.members.push(Member { id: id.to_string(), start_ns, measured_until_ns: start_ns, ..Member::default() });
                self.members.last_mut().expect("just pushed")
            }
        }
    }

    /// Member `id` is gone: what it did not report becomes the orphan a survivor takes over.
    pub fn leave(&mut self, id: &str) {
        if let Some(i) = self.members.iter().position(|m| m.id == id) {
            let m = self.members.remove(i);
            self.orphan_cpu_kwh += m.unreported_cpu_kwh;
            self.orphan_ram_kwh += m.unreported_ram_kwh;
            self.orphan_gpu_kwh += m.unreported_gpu_kwh;
        }
    }

    /// Whether a member that joined at `start_ns` may take the node's counting over now: one
    /// that joined after `counted_until` has not measured the time since, so it waits while a
    /// live member that has (its share of that time is then counted again by that member).
    pub fn may_count(&self, id: &str, start_ns: u64) -> bool {
        start_ns <= self.counted_until_ns || !self.members.iter().any(|m| m.id != id && m.start_ns <= self.counted_until_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_text_round_trips() {
        let st = State {
            counted_until_ns: 42,
            pending_cpu_kwh: 0.5,
            pending_ram_kwh: 0.25,
            orphan_cpu_kwh: 0.125,
            orphan_ram_kwh: 0.0,
            orphan_gpu_kwh: 3.0,
            members: vec![Member {
                id: "13-1".into(),
                start_ns: 7,
                measured_until_ns: 41,
                unreported_cpu_kwh: 1.5,
                unreported_ram_kwh: 0.5,
                unreported_gpu_kwh: 2.0,
            }],
            gpus: vec![
                GpuState { uuid: "GPU-a".into(), counted_until_ns: 40, counter_mj: Some(123), pending_j: 0.0 },
                GpuState { uuid: "GPU-b".into(), counted_until_ns: 41, counter_mj: None, pending_j: 2.5 },
            ],
        };
        assert_eq!(State::parse(&st.text()), st);
        let old = State::parse("gpu GPU-a 40 123\n");
        assert_eq!(old.gpus, vec![GpuState { uuid: "GPU-a".into(), counted_until_ns: 40, counter_mj: Some(123), pending_j: 0.0 }], "a 4-field GPU line");
        assert_eq!(State::parse(&format!("{}      ", st.text())), st, "padding after a shorter write");
        assert_eq!(State::parse(""), State::default());
    }

    #[test]
    fn a_member_that_leaves_leaves_what_it_did_not_report() {
        let mut st = State::default();
        st.member("a", 10).unreported_cpu_kwh = 0.5;
        st.member("b", 20).unreported_gpu_kwh = 1.0;
        st.leave("a");
        st.leave("a");
        assert_eq!((st.orphan_cpu_kwh, st.orphan_gpu_kwh, st.members.len()), (0.5, 0.0, 1));
        assert!(st.may_count("b", 20), "nobody else measured the time since 0");
        st.member("c", 0);
        assert!(!st.may_count("b", 20) && st.may_count("c", 0));
    }
}
