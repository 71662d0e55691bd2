"""Gradient-flow diagnostics: Jacobian norms through time, loss gradients per step, activation bounds,
a ``fit`` callback, and the classic vanishing/exploding-gradient experiments."""

from zoo.gradients.activations import activation_derivative_bounds
from zoo.gradients.flow import gradient_flow, run_gradient_flow
from zoo.gradients.jacobians import decay_rate, jacobian_norms, loss_gradient_norms, state_jacobians
from zoo.gradients.monitor import GradientFlowMonitor

__all__ = ["GradientFlowMonitor", "activation_derivative_bounds", "decay_rate", "gradient_flow",
           "jacobian_norms", "loss_gradient_norms", "run_gradient_flow", "state_jacobians"]
