let total = 0;
let items = [3, 4, 5];
let i = 0;
while i < LEN(items) {
    total = total + items[i];
    i = i + 1;
}
if total == 12 && !(i != 3) {
    talk "sum is twelve";
} else if total > 12 || total < 0 {
    talk "odd";
} else {
    talk "other";
}
x = 1; y = 2
if x != y { print "different" }
while i > 0 { i = i - 1; print i }
if x { if y { print "both" } } else { print "not x" } // one line
for each n in items { total = total + n }
