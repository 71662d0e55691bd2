"""Closed-form parameter counts."""

from zoo.cells.base import check_units


def lstm_param_count(n_input, n_hidden, n_output):
    """Parameters of an LSTM(n_hidden) over n_input features followed by Dense(n_output).

    4 gates, each with an input matrix (n_hidden·n_input), a recurrent matrix
    (n_hidden²) and a bias (n_hidden), plus the output layer's weights and bias:
    4(n_hidden·n_input + n_hidden² + n_hidden) + n_output·n_hidden + n_output.
    """
    n_input = check_units(n_input, "n_input")
    n_hidden = check_units(n_hidden, "n_hidden")
    n_output = check_units(n_output, "n_output")
    return 4 * (n_hidden * n_input + n_hidden**2 + n_hidden) + n_output * n_hidden + n_output
