let x = 1;
if x == 1 {
  talk "one";
}
}
talk "after";
