/**
 * nb2pipe-lab: the JupyterLab side of nb2pipe.
 *
 * - every code cell shows its step as a coloured badge and border;
 * - a cell toolbar button (and the cell context menu, and a badge click) opens a menu that
 *   writes nb2pipe's standard tags into the cell's metadata;
 * - a right-side panel follows the active notebook: DAG, steps, parameters, diagnostics,
 *   and the Convert / Run / Verify actions.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  IToolbarWidgetRegistry,
  MainAreaWidget,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon, MenuSvg, ToolbarButton } from '@jupyterlab/ui-components';

import { NotebookController } from './controller';
import { DagView, PANEL_ID, PipelinePanel } from './panel';
import {
  MENU_ROLES,
  nameProblem,
  parseTags,
  setRole,
  suggestName,
  clearTags,
  toggleAfter,
  type Role
} from './tags';

const PLUGIN_ID = 'nb2pipe-lab:plugin';

namespace CommandIDs {
  export const openPanel = 'nb2pipe:open-panel';
  export const tagMenu = 'nb2pipe:tag-menu';
  export const setStep = 'nb2pipe:set-step';
  export const newStep = 'nb2pipe:new-step';
  export const setRoleCmd = 'nb2pipe:set-role';
  export const toggleAfterCmd = 'nb2pipe:toggle-after';
  export const clearTagsCmd = 'nb2pipe:clear-tags';
  export const convert = 'nb2pipe:convert';
  export const run = 'nb2pipe:run';
  export const verify = 'nb2pipe:verify';
  export const refresh = 'nb2pipe:refresh';
}

export const nb2pipeIcon = new LabIcon({
  name: 'nb2pipe-lab:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="1" y="1.5" width="6" height="4" rx="1"/>' +
    '<rect x="9" y="6" width="6" height="4" rx="1"/>' +
    '<rect x="1" y="10.5" width="6" height="4" rx="1"/>' +
    '<path d="M7 3.2h2.2v4.1H9v1.4h.2v4.1H7v-1.3h.9V9.7H9V6.3h-.9V4.5H7z"/></g></svg>'
});

const ROLE_LABELS: Record<string, string> = {
  none: 'No role (continues the step above)',
  skip: 'Skip (not in the pipeline)',
  parameters: 'Parameters',
  imports: 'Imports',
  functions: 'Functions (shared definitions)',
  metrics: 'Metrics',
  validate: 'Validate (a gate)'
};

interface ITarget {
  controller: NotebookController;
  index: number; // 0-based cell index
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'nb2pipe in JupyterLab: step badges, a tagging menu and a pipeline panel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, IToolbarWidgetRegistry, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null,
    toolbarRegistry: IToolbarWidgetRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const { commands, shell } = app;
    const options = {
      debounceMs: 600,
      pollMs: 600,
      onBadgeClick: (panel: NotebookPanel, index: number, anchor: HTMLElement) => {
        const c = controllers.get(panel);
        if (c) {
          openMenu({ controller: c, index }, anchor);
        }
      }
    };
    const controllers = new Map<NotebookPanel, NotebookController>();

    const controllerOf = (panel: NotebookPanel | null): NotebookController | null => {
      if (!panel || panel.isDisposed) {
        return null;
      }
      let c = controllers.get(panel);
      if (!c) {
        c = new NotebookController(panel, options);
        controllers.set(panel, c);
        panel.disposed.connect(() => {
          c!.dispose();
          controllers.delete(panel);
          if (sidePanel.controller === c) {
            sidePanel.controller = controllerOf(tracker.currentWidget);
          }
        });
      }
      return c;
    };

    // -- the side panel --------------------------------------------------------------
    const sidePanel = new PipelinePanel(c => {
      const view = new MainAreaWidget({ content: new DagView(c) });
      view.id = `nb2pipe-dag-${++dagViews}`;
      view.title.label = view.content.title.label;
      view.title.icon = nb2pipeIcon;
      view.title.closable = true;
      shell.add(view, 'main', { mode: 'split-right' });
      shell.activateById(view.id);
    });
    let dagViews = 0;
    sidePanel.title.icon = nb2pipeIcon;
    shell.add(sidePanel, 'right', { rank: 600 });
    restorer?.add(sidePanel, PANEL_ID);
    tracker.widgetAdded.connect((_, panel) => void controllerOf(panel));
    tracker.currentChanged.connect((_, panel) => {
      sidePanel.controller = controllerOf(panel);
      sidePanel.controller?.schedule(0);
    });
    sidePanel.controller = controllerOf(tracker.currentWidget);

    // -- the tag menu ----------------------------------------------------------------
    let target: ITarget | null = null;

    const activeTarget = (): ITarget | null => {
      const panel = tracker.currentWidget;
      const c = controllerOf(panel);
      if (!panel || !c) {
        return null;
      }
      const index = panel.content.activeCellIndex;
      return index < 0 ? null : { controller: c, index };
    };
    const current = (): ITarget | null => target ?? activeTarget();
    const tagsOf = (t: ITarget): string[] => {
      const cell = t.controller.panel.context.model.cells.get(t.index);
      return [...(((cell?.getMetadata('tags') as string[]) ?? []) as string[])];
    };
    const parsedOf = (t: ITarget) => {
      const cell = t.controller.panel.context.model.cells.get(t.index);
      return parseTags(tagsOf(t), cell?.sharedModel.getSource() ?? '');
    };
    const isCode = (t: ITarget | null) =>
      !!t && t.controller.panel.context.model.cells.get(t.index)?.type === 'code';

    commands.addCommand(CommandIDs.setStep, {
      label: args => String(args.name),
      caption: args => `Tag the cell step:${args.name}`,
      isToggled: args => {
        const t = current();
        return !!t && parsedOf(t).step === args.name;
      },
      isEnabled: () => isCode(current()),
      execute: args => {
        const t = current();
        if (t) {
          t.controller.setTags(t.index, setRole(tagsOf(t), 'step', String(args.name)));
        }
      }
    });

    commands.addCommand(CommandIDs.newStep, {
      label: 'New step…',
      caption: 'Start a new step at this cell (step:NAME)',
      isEnabled: () => isCode(current()),
      execute: async () => {
        const t = current();
        if (!t) {
          return;
        }
        const taken = t.controller.stepNames();
        let text = suggestName(t.controller.cellInfos(), t.index, taken);
        for (;;) {
          const answer = await InputDialog.getText({
            title: 'New step',
            label: 'Step name (letters, digits and _)',
            text,
            okLabel: 'Tag the cell'
          });
          if (!answer.button.accept || answer.value === null) {
            return;
          }
          const name = answer.value.trim().replace(/-/g, '_');
          const problem = nameProblem(name);
          if (!problem) {
            t.controller.setTags(t.index, setRole(tagsOf(t), 'step', name));
            return;
          }
          await showErrorMessage('nb2pipe: invalid step name', `${JSON.stringify(name)} ${problem}`);
          text = name;
        }
      }
    });

    commands.addCommand(CommandIDs.setRoleCmd, {
      label: args => ROLE_LABELS[String(args.role)] ?? String(args.role),
      caption: args => (args.role === 'none' ? 'Remove the role tag' : `Tag the cell ${args.role}`),
      isToggled: args => {
        const t = current();
        if (!t) {
          return false;
        }
        const role = parsedOf(t).role;
        return args.role === 'none' ? role === null : role === args.role;
      },
      isEnabled: () => isCode(current()),
      execute: args => {
        const t = current();
        if (t) {
          const role = args.role === 'none' ? null : (String(args.role) as Role);
          t.controller.setTags(t.index, setRole(tagsOf(t), role));
        }
      }
    });

    commands.addCommand(CommandIDs.toggleAfterCmd, {
      label: args => String(args.name),
      caption: args => `Run this step after ${args.name} (after:${args.name})`,
      isToggled: args => {
        const t = current();
        return !!t && parsedOf(t).after.includes(String(args.name));
      },
      isEnabled: () => isCode(current()),
      execute: args => {
        const t = current();
        if (t) {
          t.controller.setTags(t.index, toggleAfter(tagsOf(t), String(args.name)));
        }
      }
    });

    commands.addCommand(CommandIDs.clearTagsCmd, {
      label: 'Clear nb2pipe tags',
      isEnabled: () => isCode(current()),
      execute: () => {
        const t = current();
        if (t) {
          t.controller.setTags(t.index, clearTags(tagsOf(t)));
        }
      }
    });

    const buildMenu = (t: ITarget): MenuSvg => {
      const menu = new MenuSvg({ commands });
      menu.addClass('nb2pipe-lab-menu');
      const names = t.controller.stepNames();
      const steps = new MenuSvg({ commands });
      steps.title.label = 'Step';
      steps.addClass('nb2pipe-lab-menu');
      for (const name of names) {
        steps.addItem({ command: CommandIDs.setStep, args: { name } });
      }
      if (names.length) {
        steps.addItem({ type: 'separator' });
      }
      steps.addItem({ command: CommandIDs.newStep });
      menu.addItem({ type: 'submenu', submenu: steps });
      menu.addItem({ command: CommandIDs.setRoleCmd, args: { role: 'none' } });
      for (const role of MENU_ROLES) {
        menu.addItem({ command: CommandIDs.setRoleCmd, args: { role } });
      }
      const own = parsedOf(t).step;
      const afterNames = names.filter(n => n !== own);
      if (afterNames.length) {
        const after = new MenuSvg({ commands });
        after.title.label = 'After';
        after.addClass('nb2pipe-lab-menu');
        for (const name of afterNames) {
          after.addItem({ command: CommandIDs.toggleAfterCmd, args: { name } });
        }
        menu.addItem({ type: 'separator' });
        menu.addItem({ type: 'submenu', submenu: after });
      }
      menu.addItem({ type: 'separator' });
      menu.addItem({ command: CommandIDs.clearTagsCmd });
      return menu;
    };

    const openMenu = (t: ITarget, anchor?: HTMLElement | null, x?: number, y?: number) => {
      const menu = buildMenu(t);
      target = t;
      menu.aboutToClose.connect(() => {
        // commands run after the menu closes: forget the target a little later
        window.setTimeout(() => {
          if (target === t) {
            target = null;
          }
        }, 0);
      });
      if (anchor) {
        const r = anchor.getBoundingClientRect();
        menu.open(r.left, r.bottom + 2);
      } else {
        menu.open(x ?? window.innerWidth / 2, y ?? window.innerHeight / 3);
      }
    };

    let lastContext: { x: number; y: number } | null = null;
    document.addEventListener(
      'contextmenu',
      e => {
        lastContext = { x: e.clientX, y: e.clientY };
      },
      true
    );

    commands.addCommand(CommandIDs.tagMenu, {
      label: 'nb2pipe: Tag Cell…',
      caption: 'Set the cell’s nb2pipe tags (step, skip, parameters, …)',
      icon: nb2pipeIcon,
      isEnabled: () => isCode(activeTarget()),
      execute: args => {
        const t = activeTarget();
        if (!t) {
          return;
        }
        const fromContext = args.fromContext === true && lastContext;
        if (fromContext) {
          openMenu(t, null, lastContext!.x, lastContext!.y);
        } else {
          const cell = t.controller.panel.content.widgets[t.index];
          const anchor =
            cell?.node.querySelector<HTMLElement>('.nb2pipe-tag-button') ??
            cell?.node.querySelector<HTMLElement>('.nb2pipe-badge') ??
            cell?.node;
          openMenu(t, anchor);
        }
      }
    });

    app.contextMenu.addItem({
      command: CommandIDs.tagMenu,
      args: { fromContext: true },
      selector: '.jp-Notebook .jp-CodeCell',
      rank: 0
    });

    // The cell toolbar button (declared in schema/plugin.json under jupyter.lab.toolbars).
    toolbarRegistry?.addFactory<Cell>('Cell', 'nb2pipe-tags', (cell: Cell) => {
      const button: ToolbarButton = new ToolbarButton({
        icon: nb2pipeIcon,
        className: 'nb2pipe-tag-button',
        tooltip: 'nb2pipe: tag this cell (step, skip, parameters, …)',
        onClick: () => {
          const panel = tracker.currentWidget;
          const c = controllerOf(panel);
          if (!panel || !c) {
            return;
          }
          const index = panel.content.widgets.indexOf(cell);
          if (index >= 0) {
            openMenu({ controller: c, index }, button.node);
          }
        }
      });
      button.node.setAttribute('aria-label', 'nb2pipe tags');
      button.node.dataset.nb2pipe = 'tag-button';
      return button;
    });

    // -- panel and action commands -----------------------------------------------------
    const currentController = () => controllerOf(tracker.currentWidget);
    commands.addCommand(CommandIDs.openPanel, {
      label: 'nb2pipe: Show Pipeline Panel',
      icon: nb2pipeIcon,
      execute: () => shell.activateById(PANEL_ID)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'nb2pipe: Analyse Notebook Now',
      isEnabled: () => !!currentController(),
      execute: () => currentController()?.refresh()
    });
    commands.addCommand(CommandIDs.convert, {
      label: 'nb2pipe: Convert Notebook to Pipeline',
      isEnabled: () => !!currentController(),
      execute: () => currentController()?.convert()
    });
    commands.addCommand(CommandIDs.run, {
      label: 'nb2pipe: Run Pipeline',
      isEnabled: () => !!currentController(),
      execute: () => currentController()?.run()
    });
    commands.addCommand(CommandIDs.verify, {
      label: 'nb2pipe: Verify Pipeline Against Notebook',
      isEnabled: () => !!currentController(),
      execute: () => currentController()?.verify()
    });
    if (palette) {
      const category = 'nb2pipe';
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.tagMenu,
        CommandIDs.refresh,
        CommandIDs.convert,
        CommandIDs.run,
        CommandIDs.verify
      ]) {
        palette.addItem({ command, category });
      }
    }

    // -- settings ----------------------------------------------------------------------
    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            options.debounceMs = Number(settings.get('debounceMs').composite) || 600;
            options.pollMs = Number(settings.get('pollMs').composite) || 600;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => console.warn('nb2pipe-lab: cannot load settings', reason));
    }
  }
};

export default plugin;
