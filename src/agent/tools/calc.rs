//! The built-in calculator tool: an arithmetic expression evaluated by a small recursive
//! descent parser, its nesting bounded so that hostile input cannot exhaust the stack.

/// Deepest parenthesis nesting the calculator accepts (keeps recursion bounded on hostile input).
const MAX_NESTING: usize = 64;

/// Prints integers without a fraction (`4`, not `4.0`) and other values in shortest form.
pub(super) fn format_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Evaluates an arithmetic expression: `+ - * /`, parentheses, unary minus and plus, decimals
/// (`.5`, `2.`, `1e3` are accepted). Division by zero, a non-finite result and bad syntax are
/// errors with the position.
pub fn calculate(expression: &str) -> Result<f64, String> {
    let mut p = Parser {
        src: expression.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let value = p.expr()?;
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.unexpected());
    }
    if !value.is_finite() {
        return Err(format!("`{expression}` overflows"));
    }
    Ok(value)
}

/// Recursive-descent parser over bytes (every token is ASCII, so byte offsets are safe):
/// `expr = term (("+"|"-") term)*`, `term = unary (("*"|"/") unary)*`,
/// `unary = ("-"|"+") unary | primary`, `primary = number | "(" expr ")"`.
struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.pos).copied()
    }

    fn unexpected(&self) -> String {
        match std::str::from_utf8(&self.src[self.pos..])
            .ok()
            .and_then(|s| s.chars().next())
        {
            Some(c) => format!("unexpected `{c}` at position {}", self.pos),
            None => "unexpected end of expression".to_string(),
        }
    }

    fn expr(&mut self) -> Result<f64, String> {
        let mut acc = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            acc = if op == b'+' { acc + rhs } else { acc - rhs };
        }
        Ok(acc)
    }

    fn term(&mut self) -> Result<f64, String> {
        let mut acc = self.unary()?;
        while let Some(op @ (b'*' | b'/')) = self.peek() {
            self.pos += 1;
            let rhs = self.unary()?;
            if op == b'*' {
                acc *= rhs;
            } else if rhs == 0.0 {
                return Err("division by zero".to_string());
            } else {
                acc /= rhs;
            }
        }
        Ok(acc)
    }

    fn unary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(op @ (b'-' | b'+')) => {
                self.enter()?;
                self.pos += 1;
                let v = self.unary()?;
                self.depth -= 1;
                Ok(if op == b'-' { -v } else { v })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                let v = self.expr()?;
                if self.peek() != Some(b')') {
                    return Err(format!("missing `)`: {}", self.unexpected()));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    /// Counts one level of nesting, refusing input nested deeper than [`MAX_NESTING`].
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!(
                "expression nested deeper than {MAX_NESTING} levels"
            ));
        }
        Ok(())
    }

    fn number(&mut self) -> Result<f64, String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            while p.pos < p.src.len() && p.src[p.pos].is_ascii_digit() {
                p.pos += 1;
            }
        };
        digits(self);
        if self.src.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            digits(self);
        }
        if matches!(self.src.get(self.pos), Some(b'e' | b'E'))
            && self
                .src
                .get(self.pos + 1)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+')
        {
            self.pos += 2;
            digits(self);
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
        text.parse::<f64>()
            .map_err(|_| format!("`{text}` at position {start} is not a number"))
    }
}
