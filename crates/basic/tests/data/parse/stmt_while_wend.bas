n = 0
WHILE n < 3
  n = n + 1
WEND
WHILE n > 0
  n = n - 1
END WHILE
while n < 2
  n = n + 1
  WHILE FALSE
  WEND
end while
