// Package report renders a simulation's results: JSON (the stable shape
// scripts and checks read), a terminal table, and a self-contained HTML
// page with SVG plots (JCT CDF, GPU utilization over time, queue length
// over time) that needs nothing from the network.
package report
