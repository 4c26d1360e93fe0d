let total = 0;
let items = [1, 2, 3];
if total == 0 && items != [] {
    talk "empty total";
} else {
    total = total + 1;
}
if !done || total >= 3 {
  print "go"
}
while total < 10 {
  total = total + 1;
}
let ok = (total == 10) && !(total != 10);
