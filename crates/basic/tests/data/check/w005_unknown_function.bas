prices = [1, 2]
total = SUMM(prices)
n = LENN(prices)
s = to_text(total)
t = helper(1)

FUNCTION helper(x)
  RETURN x
END FUNCTION
