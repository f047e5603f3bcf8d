//! A compose file's editor: a plain `<textarea>` (so typing, undo and pasting are the
//! browser's own) laid exactly over a highlighted copy of its text — keys, values,
//! comments and list dashes coloured — with line numbers beside it, the lines a
//! validation found problems on marked there with the problem as their title.
//! The text never wraps, so a line number stays beside its line.

use yew::prelude::*;

use crate::hooks::on_text;

#[derive(Properties, PartialEq)]
pub struct CodeProps {
    /// The textarea's id (tests and labels find it).
    pub id: AttrValue,
    pub value: UseStateHandle<String>,
    pub readonly: bool,
    /// Lines with a problem (1-based) and what the problem is.
    #[prop_or_default]
    pub problems: Vec<(u32, String)>,
}

#[function_component(CodeArea)]
pub fn code_area(props: &CodeProps) -> Html {
    let text = (*props.value).clone();
    let count = text.split('\n').count();
    html! {
        <div class="code-edit">
            <pre class="gutter" id={format!("{}-gutter", props.id)} aria-hidden="true">{ for (1..=count).map(|n| {
                let problem = props.problems.iter().find(|(l, _)| *l as usize == n);
                html! { <span class={classes!(problem.map(|_| "bad"))} data-line={n.to_string()}
                    title={problem.map(|(_, m)| m.clone())}>{ format!("{n}\n") }</span> }
            }) }</pre>
            <div class="code-layers">
                <pre class="code-highlight" aria-hidden="true">{ for text.split('\n').map(line) }</pre>
                <textarea id={props.id.clone()} class="code-input" spellcheck="false" wrap="off"
                    value={text.clone()} oninput={on_text(&props.value)} readonly={props.readonly} />
            </div>
        </div>
    }
}

/// One line, coloured: a comment; a `key:` (after an optional `- `) and its value;
/// or a list item's value.
fn line(text: &str) -> Html {
    let indent = text.len() - text.trim_start().len();
    let (lead, rest) = text.split_at(indent);
    if rest.starts_with('#') {
        return html! { <>{ lead }<span class="hl-comment">{ rest }</span>{ "\n" }</> };
    }
    let (dash, rest) = match rest.strip_prefix("- ") {
        Some(r) => ("- ", r),
        None => ("", rest),
    };
    let (body, comment) = split_comment(rest);
    let value_html = |v: &str| {
        let class = if v.trim_start().starts_with(['"', '\'']) {
            "hl-string"
        } else {
            "hl-value"
        };
        html! { <span class={class}>{ v.to_owned() }</span> }
    };
    let main = match key_of(body) {
        Some(at) => {
            let (key, value) = body.split_at(at + 1);
            html! { <><span class="hl-key">{ key.to_owned() }</span>{ value_html(value) }</> }
        }
        None => value_html(body),
    };
    html! { <>
        { lead }<span class="hl-dash">{ dash }</span>{ main }
        <span class="hl-comment">{ comment.to_owned() }</span>{ "\n" }
    </> }
}

/// Where a mapping key's colon is, if the text starts with a key.
fn key_of(text: &str) -> Option<usize> {
    if text.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let colon = text.find(':')?;
    let after = text[colon + 1..].chars().next();
    let key = &text[..colon];
    (after.is_none_or(char::is_whitespace) && !key.contains(' ')).then_some(colon)
}

/// A trailing ` # comment` outside quotes.
fn split_comment(text: &str) -> (&str, &str) {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i > 0 && text[..i].ends_with([' ', '\t']) => {
                return text.split_at(i);
            }
            _ => {}
        }
    }
    (text, "")
}
