//! Mapping the tasks read to steps: references checked (unique task names, declared agents,
//! existing dependencies), each task one `instrument.offline` step with its ports, edges,
//! policy and prompt, and the canvas laid out in columns by dependency depth.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::execution::{retry_with, Execution};
use super::read::{join, Importer, Task};
use super::text::{escape_holes, fill_placeholders, hint_or, listing, slug};
use super::{COLUMN_WIDTH, GOAL_INPUT, MEDIUM, MODEL_PREFIX, ROW_HEIGHT, STEP_TYPE};
use crate::catalog::PortType;
use crate::model::{
    Edge, Layout, Melody, Metadata, Policy, PortDecl, PortRef, Position, Retry, RunInput, Step,
    StepKind, ValueType, FORMAT_VERSION,
};

impl Importer {
    /// Turns the tasks into steps, edges and layout. Returns `None` when something is wrong
    /// (already reported).
    pub(super) fn build(
        &mut self,
        metadata: Metadata,
        agents: Option<&[String]>,
        execution: Execution,
        tasks: &[Task],
    ) -> Option<Melody> {
        let links = self.resolve(agents, tasks);
        if !self.problems.is_empty() {
            return None;
        }
        let mut inputs = BTreeMap::new();
        if tasks
            .iter()
            .filter_map(|t| t.description.as_deref())
            .any(|d| d.contains("{goal}"))
        {
            inputs.insert(
                GOAL_INPUT.to_owned(),
                RunInput {
                    ty: ValueType::String,
                    description: "The orchestra's goal".to_owned(),
                    default: None,
                },
            );
        }
        let plan = Plan {
            tasks,
            ids: step_ids(tasks, &inputs),
            links,
            default_priority: if tasks.iter().any(|t| t.priority.is_some()) {
                MEDIUM
            } else {
                0
            },
            retry: execution.retry,
        };
        let mut edges = Vec::new();
        let steps = (0..tasks.len())
            .map(|t| plan.step(t, &inputs, &mut edges))
            .collect();
        Some(Melody {
            format_version: FORMAT_VERSION,
            melody: metadata,
            layout: plan.layout(),
            inputs,
            settings: execution.settings,
            step_types: Default::default(),
            steps,
            edges,
        })
    }

    /// Checks what tasks refer to (unique names, declared agents, existing dependencies) and
    /// resolves each task's dependencies to task positions.
    fn resolve(&mut self, agents: Option<&[String]>, tasks: &[Task]) -> Vec<Vec<Link>> {
        // Task names must be unique: `context` refers to tasks by name.
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for (t, task) in tasks.iter().enumerate() {
            let Some(name) = task.name.as_deref() else {
                continue;
            };
            if let Some(&first) = by_name.get(name) {
                self.problem(
                    join(&task.path, "name"),
                    format!(
                        "{name:?} is already the name of tasks[{}]; task names must be unique \
                         because `context` refers to tasks by name",
                        tasks[first].index
                    ),
                );
            } else {
                by_name.insert(name, t);
            }
        }

        if let Some(agents) = agents {
            for task in tasks {
                let Some(agent) = task.agent.as_deref() else {
                    continue;
                };
                if !agents.iter().any(|a| a == agent) {
                    let hint = hint_or(
                        agent,
                        &agents.iter().map(String::as_str).collect::<Vec<_>>(),
                        || {
                            format!(
                                "add it there or correct the name (agents: {})",
                                listing(agents.iter().map(String::as_str))
                            )
                        },
                    );
                    self.problem(
                        join(&task.path, "agent"),
                        format!("agent {agent:?} is not listed under `agents`{hint}"),
                    );
                }
            }
        }

        // Names in file order, each once, so suggestions are deterministic.
        let mut seen = HashSet::new();
        let names: Vec<&str> = tasks
            .iter()
            .filter_map(|t| t.name.as_deref())
            .filter(|n| seen.insert(*n))
            .collect();
        let mut links = Vec::with_capacity(tasks.len());
        for task in tasks {
            // A task named twice keeps its first place; reading the output wins over waiting.
            let mut resolved: Vec<Link> = Vec::new();
            for dep in &task.dependencies {
                let Some(&d) = by_name.get(dep.name.as_str()) else {
                    let hint = hint_or(&dep.name, &names, || {
                        format!(
                            "name one of this orchestra's tasks ({})",
                            listing(names.iter().copied())
                        )
                    });
                    self.problem(
                        dep.path.clone(),
                        format!("no task named {:?}{hint}", dep.name),
                    );
                    continue;
                };
                match resolved.iter_mut().find(|l| l.task == d) {
                    Some(link) => link.reads_output |= dep.reads_output,
                    None => resolved.push(Link {
                        task: d,
                        reads_output: dep.reads_output,
                    }),
                }
            }
            links.push(resolved);
        }
        links
    }
}

/// A resolved dependency: the position of the task depended on, and how.
struct Link {
    task: usize,
    reads_output: bool,
}

/// Checked tasks on their way to becoming steps.
struct Plan<'a> {
    tasks: &'a [Task],
    /// Step id of each task.
    ids: Vec<String>,
    /// Dependencies of each task.
    links: Vec<Vec<Link>>,
    /// The priority of a task that names none.
    default_priority: i32,
    /// The orchestra's retry, before a task's own `retry_count`.
    retry: Option<Retry>,
}

impl Plan<'_> {
    /// The step of task `t`; its incoming edges are appended to `edges`.
    fn step(&self, t: usize, inputs: &BTreeMap<String, RunInput>, edges: &mut Vec<Edge>) -> Step {
        let task = &self.tasks[t];
        let id = &self.ids[t];
        let agent = task.agent.as_deref().unwrap_or_default();

        let mut prompt = fill_placeholders(
            &escape_holes(task.description.as_deref().unwrap_or_default()),
            inputs,
        );
        let mut ports = BTreeMap::new();
        for link in &self.links[t] {
            let dep_id = &self.ids[link.task];
            let dep_name = self.tasks[link.task].name.as_deref().unwrap_or_default();
            let description = if link.reads_output {
                prompt.push_str(&format!(
                    "\n\n## From {}\n{{{{{dep_id}}}}}",
                    escape_holes(dep_name)
                ));
                format!("The output of task `{dep_name}`.")
            } else {
                format!(
                    "The output of task `{dep_name}`; not used in the prompt, it only makes \
                     this task wait for that one."
                )
            };
            ports.insert(
                dep_id.clone(),
                PortDecl {
                    ty: PortType::Text,
                    default: None,
                    description,
                },
            );
            edges.push(Edge {
                from: PortRef::new(dep_id.clone(), "output"),
                to: PortRef::new(id.clone(), dep_id.clone()),
            });
        }

        let mut description = format!("Played by agent `{agent}`.");
        if let Some(expected) = &task.expected_output {
            description.push_str(&format!("\n\nExpected output: {expected}"));
        }

        let mut config = Map::new();
        config.insert("prompt".to_owned(), Value::String(prompt));
        config.insert(
            "model".to_owned(),
            Value::String(format!("{MODEL_PREFIX}{agent}")),
        );

        let retry = match (&self.retry, task.retry_count) {
            (Some(r), Some(n)) => Some(Retry {
                max: n,
                ..r.clone()
            }),
            (Some(r), None) => Some(r.clone()),
            (None, Some(n)) => Some(retry_with(n, 2.0)),
            (None, None) => None,
        }
        .filter(|r| r.max > 0);

        Step {
            id: id.clone(),
            kind: StepKind::Instrument,
            type_name: STEP_TYPE.to_owned(),
            name: task.name.clone().unwrap_or_default(),
            description,
            inputs: ports,
            outputs: BTreeMap::new(),
            config,
            policy: Policy {
                timeout_ms: task.timeout_ms,
                retry,
                priority: task.priority.unwrap_or(self.default_priority),
                ..Policy::default()
            },
            capabilities: BTreeSet::new(),
        }
    }

    /// Columns by dependency depth, rows in file order within a column.
    fn layout(&self) -> Layout {
        let deps: Vec<Vec<usize>> = self
            .links
            .iter()
            .map(|l| l.iter().map(|link| link.task).collect())
            .collect();
        let mut rows: HashMap<usize, usize> = HashMap::new();
        let mut layout = Layout::default();
        for (t, depth) in depths(&deps).into_iter().enumerate() {
            let row = rows.entry(depth).or_insert(0);
            layout.steps.insert(
                self.ids[t].clone(),
                Position {
                    x: COLUMN_WIDTH * depth as f64,
                    y: ROW_HEIGHT * *row as f64,
                },
            );
            *row += 1;
        }
        layout
    }
}

/// Step ids: slugs of the task names, unique, and never a name a template would read as
/// something else (`input` is reserved; a step called like a run input would shadow it in the
/// prompts of the steps it feeds).
fn step_ids(tasks: &[Task], inputs: &BTreeMap<String, RunInput>) -> Vec<String> {
    let mut taken: HashSet<String> = inputs.keys().cloned().collect();
    taken.insert("input".to_owned());
    tasks
        .iter()
        .map(|t| {
            let base = slug(t.name.as_deref().unwrap_or_default(), "task");
            let mut id = base.clone();
            let mut n = 2;
            while taken.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            taken.insert(id.clone());
            id
        })
        .collect()
}

/// Longest dependency chain above each task (0 for tasks without dependencies). Edges that
/// close a cycle are ignored here; the validator reports cycles.
fn depths(deps: &[Vec<usize>]) -> Vec<usize> {
    let mut depth: Vec<Option<usize>> = vec![None; deps.len()];
    let mut on_stack = vec![false; deps.len()];
    for start in 0..deps.len() {
        if depth[start].is_some() {
            continue;
        }
        // Iterative depth-first search, so a chain of many thousand tasks cannot overflow.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        on_stack[start] = true;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&d) = deps[node].get(*next) {
                *next += 1;
                if depth[d].is_none() && !on_stack[d] {
                    on_stack[d] = true;
                    stack.push((d, 0));
                }
            } else {
                let below = deps[node]
                    .iter()
                    .filter_map(|&d| depth[d])
                    .map(|x| x + 1)
                    .max()
                    .unwrap_or(0);
                depth[node] = Some(below);
                on_stack[node] = false;
                stack.pop();
            }
        }
    }
    depth.into_iter().map(Option::unwrap_or_default).collect()
}
