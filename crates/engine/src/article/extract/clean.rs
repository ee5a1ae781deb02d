//! What is left out inside the story's container: lists, tables, divisions and forms that read
//! as boilerplate (mostly links, more images or form fields than paragraphs, a class that
//! weighs against them, an embed with no text), headings whose class weighs against them, and
//! short sharing tools. Decided from the innermost out, each element judged on what is left in
//! it once what was left out inside it is taken away, in one pass (linear in the page).

use super::Pass;
use super::tree::{El, NONE};

/// What an element holds that the rules below weigh.
#[derive(Clone, Copy, Default)]
struct Held {
    text: u32,
    link: u32,
    commas: u32,
    heading: u32,
    p: u32,
    /// Paragraphs of text, in `<p>` or not (see `El::paragraphs`).
    paragraphs: u32,
    img: u32,
    li: u32,
    input: u32,
    embed: u32,
}

impl Held {
    fn of(el: &El) -> Held {
        Held {
            text: el.text,
            link: el.link,
            commas: el.commas,
            heading: el.heading,
            p: el.p,
            paragraphs: el.paragraphs,
            img: el.img,
            li: el.li,
            input: el.input,
            embed: el.embed,
        }
    }

    fn minus(self, o: Held) -> Held {
        Held {
            text: self.text.saturating_sub(o.text),
            link: self.link.saturating_sub(o.link),
            commas: self.commas.saturating_sub(o.commas),
            heading: self.heading.saturating_sub(o.heading),
            p: self.p.saturating_sub(o.p),
            paragraphs: self.paragraphs.saturating_sub(o.paragraphs),
            img: self.img.saturating_sub(o.img),
            li: self.li.saturating_sub(o.li),
            input: self.input.saturating_sub(o.input),
            embed: self.embed.saturating_sub(o.embed),
        }
    }

    fn plus(self, o: Held) -> Held {
        Held {
            text: self.text + o.text,
            link: self.link + o.link,
            commas: self.commas + o.commas,
            heading: self.heading + o.heading,
            p: self.p + o.p,
            paragraphs: self.paragraphs + o.paragraphs,
            img: self.img + o.img,
            li: self.li + o.li,
            input: self.input + o.input,
            embed: self.embed + o.embed,
        }
    }

    fn link_density(&self) -> f32 {
        if self.text == 0 {
            0.0
        } else {
            self.link as f32 / self.text as f32
        }
    }
}

/// Sharing tools shorter than this (characters) are left out.
const SHORT_SHARING: u32 = 500;

/// Which elements under `roots` are left out (indexed like `els`).
pub(super) fn clean(els: &[El], roots: &[u32], pass: Pass) -> Vec<bool> {
    let mut dropped = vec![false; els.len()];
    for &root in roots {
        let (start, end) = (root as usize, els[root as usize].end as usize);
        // Inside a data table (or the root being one), nothing is judged.
        let mut in_data = vec![false; end - start];
        for i in start + 1..end {
            let p = els[i].parent;
            if p != NONE && (p as usize) >= start {
                let at = p as usize - start;
                in_data[i - start] = in_data[at] || els[p as usize].data_table();
            }
        }
        let mut removed = vec![Held::default(); end - start];
        for i in (start + 1..end).rev() {
            let el = &els[i];
            if el.junk {
                continue;
            }
            let held = Held::of(el).minus(removed[i - start]);
            let drop = !in_data[i - start]
                && !el.data_table()
                && (leave_out(el, &held, pass) || (el.sharing && held.text < SHORT_SHARING));
            let gone = if drop {
                Held::of(el)
            } else {
                removed[i - start]
            };
            dropped[i] = drop;
            let p = el.parent as usize;
            if el.parent != NONE && p >= start {
                removed[p - start] = removed[p - start].plus(gone);
            }
        }
    }
    dropped
}

/// Whether an element, holding `held`, is boilerplate inside the story.
fn leave_out(el: &El, held: &Held, pass: Pass) -> bool {
    if matches!(el.name, "h1" | "h2") {
        return el.weight < 0;
    }
    if !pass.clean || !matches!(el.name, "form" | "fieldset" | "table" | "ul" | "ol" | "div") {
        return false;
    }
    if el.weight < 0 {
        return true;
    }
    // Headlines of other stories: headings that are links, most of those in it.
    if el.linked_headings >= 2 && el.linked_headings * 2 >= el.headings {
        return true;
    }
    if held.commas >= 10 {
        return false;
    }
    let is_list = matches!(el.name, "ul" | "ol");
    // Paragraphs are `<p>` elements, or runs of text as long (a forum's posts, cut by `<br>`).
    let paragraphs = held.p.max(held.paragraphs);
    let (p, img, input) = (paragraphs as f32, held.img as f32, held.input);
    // Lists in the story hold list items; only a great many of them outweighs its paragraphs.
    let li = held.li as f32 - 100.0;
    let density = held.link_density();
    let heading_density = if held.text == 0 {
        0.0
    } else {
        held.heading as f32 / held.text as f32
    };
    let figure = el.in_figure || el.name == "figure";
    let drop = (!figure && held.img > 1 && p / img < 0.5)
        || (!is_list && li > p)
        || input > paragraphs / 3
        || (!is_list
            && !figure
            && heading_density < 0.9
            && held.text < 25
            && (held.img == 0 || held.img > 2)
            && density > 0.0)
        || (!is_list && el.weight < 25 && density > 0.2)
        || (el.weight >= 25 && density > 0.5)
        || (held.embed == 1 && held.text < 75)
        || held.embed > 1;
    // A list of images (one in each item) is kept.
    if is_list && drop && held.img == held.li && held.img > 0 {
        return false;
    }
    drop
}
