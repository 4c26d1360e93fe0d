' Expressions: operators, access, built-ins, NOW/UUID from the inputs.
' input: {"form": {"amount": "150", "tags": ["a", "b"]}, "n": 9007199254740993}
big = n + 0
plus = "a" + 1 + 2
amp = 1 & 2
numeric = form.amount > 100
member = "b" IN form.tags
notmember = "z" NOT IN form.tags
fallback = missing ?? "default"
deep = form["tags"][1]
nothing = form.nope.deeper
obj = {name: "x", "quoted key": [1, 2.5], nested: {ok: TRUE}}
obj.extra = "set"
obj.nested.more = 1
list = [1, 2]
list[2] = 3
WITH profile
  name = "Ann"
  age = 30
END WITH
now = NOW()
today = TODAY()
id1 = UUID()
id2 = UUID()
later = DATEADD(today, 1, "month")
days = DATEDIFF("2024-01-01", today)
text = FORMAT(1234.5, "#,##0.00") & " " & FORMAT(now, "dd/MM/yyyy")
json = JSON(obj.nested)
parsed = PARSE_JSON("{""a"": [1, 2]}")
keys = KEYS(obj)
words = SPLIT("a b c", " ")
joined = JOIN(words, "-")
math = [2 ^ 10, 7 MOD 3, 7 / 2, INT(-2.5), ROUND(2.675, 2), ABS(-3), MIN(3, 1, 2), MAX([4, 8])]
strings = [LEN("héllo"), LEFT("abcdef", 2), RIGHT("abcdef", 2), MID("abcdef", 2, 3), TRIM("  x  "), REPLACE("a-b", "-", "+"), LOWER("ABC"), STR(1.5), VAL("12abc")]
tests = [CONTAINS("hello", "ell"), STARTSWITH("hello", "he"), FIRST([7, 8]), LAST([7, 8]), NOT TRUE, TRUE AND FALSE OR TRUE]
