a = 1+2*3
b = (1+2)*3
c = 2^3^2
d = -x^2
e = a MOD 3 - -b
f = NOT a = b AND c <> d OR e
g = x IN [1,2,3] AND y NOT IN ["a", "b"]
h = maybe ?? "default"
i = "a" & "b" + "c"
j = {"name": "Ann", age: 30, "tags": ["x","y"], nested: {k: [1, {z: null}]}}
k = order.items[0].price * 1.10
l = LEN(UPPER(TRIM("  hi  "))) >= 2.50
m = 1.0
n = 0.5e0 * 3
o = [ ]
p = { }
q = TRUE OR FALSE
r = ((a))
s = "He said ""hi"" \n ${name}!"
t = list[i + 1]["key"]
u = 10 / 4 / 2
v = a = b
w = a <= b AND a >= c AND a < d AND a > e
