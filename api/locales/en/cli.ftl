# Messages of the `coinsence` command line meant for people (not logs).

# Used by the catalog's own test: a count selects the plural form.
test-plural = { $count ->
    [one] { $count } member
   *[other] { $count } members
}
