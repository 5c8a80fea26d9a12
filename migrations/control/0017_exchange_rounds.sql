-- Exchange rounds (issue 17): when each pair's next round is cut. Drawn at random in the last
-- part of the window when the previous round is done, so nobody can time an order to it.
ALTER TABLE control.exchange_pairs ADD COLUMN next_cut_at timestamptz;
