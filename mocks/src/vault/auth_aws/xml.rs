//! Just enough XML for the answers Vault reads (GetCallerIdentity, AssumeRole, IAM reads,
//! DescribeInstances, AWS error envelopes): a tree of elements by local name, namespaces
//! ignored, as Go's `encoding/xml` decodes into Vault's and the SDK's structs.

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub(crate) fn parse(xml: &str) -> Result<Node, String> {
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Node> = Vec::new();
        let mut root: Option<Node> = None;
        // The name after any `prefix:`.
        let local = |raw: &[u8]| -> String {
            let name = raw.rsplit(|&b| b == b':').next().unwrap_or_default();
            String::from_utf8_lossy(name).into_owned()
        };
        loop {
            match reader.read_event().map_err(|e| e.to_string())? {
                Event::Start(e) => stack.push(Node {
                    name: local(e.name().as_ref()),
                    ..Node::default()
                }),
                Event::Empty(e) => {
                    let n = Node {
                        name: local(e.name().as_ref()),
                        ..Node::default()
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(n),
                        None if root.is_none() => root = Some(n),
                        None => return Err("multiple root elements".into()),
                    }
                }
                Event::End(_) => {
                    let n = stack.pop().ok_or("unexpected end element")?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(n),
                        None if root.is_none() => root = Some(n),
                        None => return Err("multiple root elements".into()),
                    }
                }
                Event::Text(t) => {
                    let text = t.unescape().map_err(|e| e.to_string())?;
                    match stack.last_mut() {
                        // Leading white space (the indentation before a child, mostly) is
                        // dropped: every reader of `text` trims it.
                        Some(n) if n.text.is_empty() && text.trim().is_empty() => {}
                        Some(n) => n.text.push_str(&text),
                        None if text.trim().is_empty() => {}
                        None => return Err("text outside the root element".into()),
                    }
                }
                Event::CData(t) => {
                    if let Some(n) = stack.last_mut() {
                        n.text.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !stack.is_empty() {
            return Err("unexpected EOF".into());
        }
        root.ok_or_else(|| "EOF".into())
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the child at `path` (`["Role", "Arn"]`), empty if absent.
    pub(crate) fn text_at(&self, path: &[&str]) -> String {
        let mut n = self;
        for p in path {
            match n.child(p) {
                Some(c) => n = c,
                None => return String::new(),
            }
        }
        n.text.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_ignored_and_text_unescaped() {
        let n = Node::parse("<?xml version=\"1.0\"?><a:R xmlns:a=\"x\"><B>1 &amp; 2</B><C/></a:R>")
            .unwrap();
        assert_eq!(n.name, "R");
        assert_eq!(n.text_at(&["B"]), "1 & 2");
        assert!(n.child("C").is_some());
        assert!(Node::parse("<R><B></R>").is_err());
        assert!(Node::parse("not xml").is_err());
    }
}
