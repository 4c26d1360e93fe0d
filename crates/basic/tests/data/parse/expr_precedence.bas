a = 1 + 2 * 3 - 4 / 2
b = (1 + 2) * 3
c = 2 ^ 3 ^ 2
d = -x ^ 2
e = 10 MOD 3 + 1
f = NOT a = b AND c <> d OR e
g = x IN [1, 2, 3] AND y NOT IN ["a", "b"]
h = maybe ?? "default" & "!"
i = "a" & 1 + 2
j = a < b = c > d
k = !done && (x == 1 || y != 2)
l = a.b.c[0]["d"].e
m = FIRST(SPLIT("a,b", ","))
n = 1 - -1
o = a >= b AND a <= c
