quote = "She said ""hello"""
newline = "line one\nline two"
tab = "a\tb"
escaped = "a \"quoted\" word"
backslash = "C:\\files\\x"
empty = ""
name = "Ann"
order = {"id": 7, "items": ["tea"]}
interp = "Hi ${name}, order ${order.id} has ${LEN(order["items"])} item(s)"
nested = "outer ${"inner ${name}"} end"
braces = "object ${ {"k": 1}.k } done"
dollar = "costs $5 and ${1 + 1}$"
unicode = "café ☕ 日本"
TALK quote & newline & tab & escaped & backslash & empty & interp & nested & braces & dollar & unicode
