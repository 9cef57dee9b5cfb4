import { describe, expect, it } from 'vitest';
import { PROJECT_PATH, preselectProject, projectFilterOptions, projectProblem, showsProjects, splitProjectErrors, submittableProjects } from './projects.ts';

describe('submittableProjects', () => {
  it('offers the projects where the caller submits or administers, by name', () => {
    expect(
      submittableProjects([
        { name: 'vision', role: 'submit' },
        { name: 'default', role: 'read' },
        { name: 'audio', role: 'admin' },
      ]),
    ).toEqual(['audio', 'vision']);
    expect(submittableProjects([{ name: 'default', role: 'read' }])).toEqual([]);
  });
});

describe('preselectProject', () => {
  it('takes the only project offered, whatever is remembered', () => {
    expect(preselectProject(['vision'], 'audio')).toBe('vision');
    expect(preselectProject(['vision'], null)).toBe('vision');
  });

  it('takes the remembered project while it is offered, else default, else none', () => {
    expect(preselectProject(['audio', 'default', 'vision'], 'vision')).toBe('vision');
    expect(preselectProject(['audio', 'default', 'vision'], 'gone')).toBe('default');
    expect(preselectProject(['audio', 'default'], null)).toBe('default');
    expect(preselectProject(['audio', 'vision'], 'gone')).toBeNull();
    expect(preselectProject(['audio', 'vision'], null)).toBeNull();
    expect(preselectProject([], 'vision')).toBeNull();
  });
});

describe('projectProblem', () => {
  it('asks for a project when some are offered and none of them is chosen', () => {
    expect(projectProblem(['audio', 'vision'], null)).toEqual({ path: PROJECT_PATH, message: 'choose the project it goes to' });
    expect(projectProblem(['audio', 'vision'], 'other')).toEqual({ path: PROJECT_PATH, message: 'choose the project it goes to' });
    expect(projectProblem(['audio', 'vision'], 'vision')).toBeNull();
  });

  it('leaves it to the API when the projects are unknown or none is offered', () => {
    expect(projectProblem(null, null)).toBeNull();
    expect(projectProblem([], null)).toBeNull();
  });
});

describe('splitProjectErrors', () => {
  it('puts the API’s messages naming project at the select and keeps the rest in order', () => {
    const details = [
      { path: 'name', message: 'must not be empty' },
      { path: 'project', message: 'is required for this token' },
      { path: 'dataset', message: 'is required' },
      { path: 'project', message: 'must be a project name' },
    ];
    expect(splitProjectErrors(details)).toEqual({ project: ['is required for this token', 'must be a project name'], rest: [details[0], details[2]] });
    expect(splitProjectErrors([])).toEqual({ project: [], rest: [] });
    // A top-level `project` key in the sweep's body: a problem of the body, not of the select.
    const body = [{ path: 'project', message: 'is not a known field' }];
    expect(splitProjectErrors(body)).toEqual({ project: [], rest: body });
  });
});

describe('showsProjects', () => {
  it('shows the column and filter to a caller who sees more than one project', () => {
    expect(showsProjects(['audio', 'vision'], [], null)).toBe(true);
    expect(showsProjects(['vision'], [{ project: 'vision' }], null)).toBe(false);
    expect(showsProjects([], [], null)).toBe(false);
  });

  it('shows them while a filter is set, so it can be cleared', () => {
    expect(showsProjects(['vision'], [], 'vision')).toBe(true);
    expect(showsProjects(null, [], 'vision')).toBe(true);
  });

  it('without the projects, shows them when the sweeps listed are of several projects', () => {
    expect(showsProjects(null, [{ project: 'a' }, { project: 'b' }], null)).toBe(true);
    expect(showsProjects(null, [{ project: 'a' }, { project: 'a' }, {}], null)).toBe(false);
  });
});

describe('projectFilterOptions', () => {
  it('lists the projects seen, and the filter’s own when it is not one of them', () => {
    expect(projectFilterOptions(['vision', 'audio'], null)).toEqual(['audio', 'vision']);
    expect(projectFilterOptions(['vision'], 'gone')).toEqual(['gone', 'vision']);
    expect(projectFilterOptions(null, 'vision')).toEqual(['vision']);
  });
});
